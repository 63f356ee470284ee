// basic_receive_port_set: a Mach port set and the receive rights in it, as an Asio I/O object.
//
//   machport::receive_port_set set(io);
//   set.add(std::move(client_a)).value();
//   set.add(std::move(client_b)).value();
//   auto [ec, member, msg] = co_await set.async_receive(asio::as_tuple(asio::use_awaitable));
//
// One knote watches the set's name (EVFILT_MACHPORT on a port set fires while any member holds
// a message), so an idle member costs nothing per event. A receive on the set takes the first
// message of the member that has waited longest (the kernel serves members roughly in the
// order they became non-empty, docs/xnu-ipc-semantics.md §2.12); the member is the message's
// local port.
//
// Ownership. The set owns its members: add() takes a receive right, remove() extracts it from
// the set and gives it back. A port is therefore never watched both on its own (a
// basic_receive_port owns its right) and through this set: two knotes would race for each of
// its messages. Destroying or moving a receive right takes it out of every set in the kernel;
// here the only way out is remove(), which extracts it first, so a right handed back is never
// still read through the set. Do not destroy or move a member through its name behind the
// set's back (its name would stay listed here, and a recycled name could be confused with it).
//
// Thread safety: distinct objects are safe. A shared object is safe for concurrent
// async_receive, cancel, the handlers' cancellation slots and the reactor; add, remove, close,
// release, open and move need exclusive access (they change the member table), as with every
// Asio I/O object. The execution context must outlive the object.
#pragma once

#include <machport/async_receive_options.hpp>
#include <machport/detail/async_op.hpp>
#include <machport/detail/receive_object.hpp>
#include <machport/message.hpp>
#include <machport/port_set.hpp>
#include <machport/receive_right.hpp>
#include <machport/result.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/system/system_error.hpp>

#include <cstddef>
#include <memory>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

namespace machport {

namespace detail {

// What a basic_receive_port_set watches: the set, and the members it owns.
struct receive_port_set_state {
  watched_port watch;
  std::unordered_map<mach_port_name_t, receive_right> members;
  // Declared after the members so that it is destroyed first: the members then leave no set
  // one by one as they are destroyed.
  port_set set;
};

// The member a received message came from (its local port), or MACH_PORT_NULL on error.
inline mach_port_name_t member_of(const boost::system::error_code& ec, const message& m) noexcept {
  return !ec && !m.empty() ? m.header().msgh_local_port : MACH_PORT_NULL;
}

// Delivery to a handler of signature void(error_code, mach_port_name_t member, message).
struct deliver_member_message {
  template <class Handler>
  static void deliver(Handler& h, boost::system::error_code ec, message&& m) {
    const mach_port_name_t member = member_of(ec, m);
    std::move(h)(ec, member, std::move(m));
  }
};

// ... of signature void(error_code, mach_port_name_t member, T): deliver_typed<T>, with the
// member (also when the message does not decode as T: it names the member that sent it).
template <class T>
struct deliver_member_typed {
  template <class Handler>
  static void deliver(Handler& h, boost::system::error_code ec, message&& m) {
    const mach_port_name_t member = member_of(ec, m);
    auto with_member = [&h, member](boost::system::error_code e, T&& value) {
      std::move(h)(e, member, std::move(value));
    };
    deliver_typed<T>::deliver(with_member, ec, std::move(m));
  }
};

// How a set's receives complete: with the member, void(error_code, mach_port_name_t member,
// message), or void(error_code, mach_port_name_t member, T) decoded.
struct receive_port_set_completion {
  using signature = void(boost::system::error_code, mach_port_name_t, message);
  using deliver = deliver_member_message;
  template <class T>
  using typed_signature = void(boost::system::error_code, mach_port_name_t, T);
  template <class T>
  using typed_deliver = deliver_member_typed<T>;
};

}  // namespace detail

// The rights a basic_receive_port_set gives back on release(): the set, with every member
// still in it, and the members' receive rights. (The set is declared last so that it is
// destroyed first: members destroyed afterwards leave no set one by one.)
struct released_port_set {
  std::vector<receive_right> members;
  port_set set;
};

template <class Executor = boost::asio::any_io_executor>
class basic_receive_port_set
    : public detail::receive_object<Executor, detail::receive_port_set_state,
                                    detail::receive_port_set_completion> {
  using base = detail::receive_object<Executor, detail::receive_port_set_state,
                                      detail::receive_port_set_completion>;

 public:
  using typename base::executor_type;
  using typename base::native_handle_type;
  // void(error_code, mach_port_name_t member, message): the member the message came from
  // (its receive right's name; MACH_PORT_NULL on error) and the message.
  using typename base::receive_signature;

  template <class Executor1>
  struct rebind_executor {
    using other = basic_receive_port_set<Executor1>;
  };

  // An open set with no member (a new port set). Throws boost::system::system_error with
  // the kernel's error (KERN_NO_SPACE) if no set can be made.
  explicit basic_receive_port_set(const executor_type& ex) : base(ex) { open(); }
  template <class ExecutionContext>
    requires std::is_convertible_v<ExecutionContext&, boost::asio::execution_context&>
  explicit basic_receive_port_set(ExecutionContext& ctx) : base(ctx) {
    open();
  }

  // The other object is left closed; its members and pending operations move with it.
  basic_receive_port_set(basic_receive_port_set&& other) noexcept = default;
  template <class Executor1>
    requires std::is_convertible_v<const Executor1&, executor_type>
  basic_receive_port_set(basic_receive_port_set<Executor1>&& other) noexcept
      : base(std::move(other)) {}

  // Closes this set (see close()), then takes the other's set, members, executor and
  // pending operations.
  basic_receive_port_set& operator=(basic_receive_port_set&& other) noexcept = default;

  // Closes: pending operations complete with operation_aborted, the set and every member
  // are destroyed.
  ~basic_receive_port_set() = default;

  // get_executor(), native_handle() (the set's name, or MACH_PORT_NULL when closed),
  // is_open(), cancel() (completes every pending receive with operation_aborted; messages stay
  // in the members) and close() (cancels, stops watching, destroys the set and every member:
  // their queued messages are destroyed with them, by the kernel) come from
  // detail::receive_object.

  // Opens a closed set with a new port set and no member. Throws boost::system::system_error:
  // already_open, or the kernel's error (KERN_NO_SPACE).
  void open() {
    this->throw_if_open("machport: receive_port_set::open");
    auto p = std::make_unique<detail::receive_port_set_state>();
    result<port_set> s = port_set::allocate();
    if (!s) throw boost::system::system_error(s.error(), "machport: receive_port_set::open");
    p->set = std::move(s).value();
    const mach_port_name_t name = p->set.name();
    this->attach(std::move(p), name);
  }

  // Adds `member` to the set (mach_port_insert_member), which then owns it; its messages,
  // queued ones included, are received through the set. Errors, after which `member` stays
  // with the caller: KERN_INVALID_NAME (the set is closed, or `member` is empty),
  // KERN_ALREADY_IN_SET, the kernel's others (KERN_INVALID_RIGHT). Throws std::bad_alloc
  // before anything changes.
  result<void> add(receive_right&& member) {
    auto* s = this->state();
    if (!s || !member.valid()) return make_kern_error(KERN_INVALID_NAME);
    auto [it, inserted] = s->members.try_emplace(member.name());
    if (!inserted) return make_kern_error(KERN_ALREADY_IN_SET);
    if (auto r = s->set.insert(member); !r) {
      s->members.erase(it);
      return r;
    }
    it->second = std::move(member);
    return success();
  }

  // Takes the member `name` out of the set (mach_port_extract_member) and returns its
  // receive right, with its queued messages. A pending receive on the set goes on waiting
  // for the other members. (A receive bound to one of the member's messages just before
  // completes with it.) Errors, after which nothing changed: KERN_NOT_IN_SET (not a member,
  // or the set is closed), the kernel's.
  result<receive_right> remove(mach_port_name_t name) {
    auto* s = this->state();
    if (!s) return make_kern_error(KERN_NOT_IN_SET);
    auto it = s->members.find(name);
    if (it == s->members.end()) return make_kern_error(KERN_NOT_IN_SET);
    BOOST_OUTCOME_TRY(s->set.extract(it->second));
    receive_right r = std::move(it->second);
    s->members.erase(it);
    return r;
  }

  // The member named `name`, for the synchronous calls (make_send, queue_limit, ...), or
  // nullptr. Never move it away or destroy it through its name: remove() does that.
  const receive_right* find(mach_port_name_t name) const noexcept {
    auto* s = this->state();
    if (!s) return nullptr;
    auto it = s->members.find(name);
    return it == s->members.end() ? nullptr : &it->second;
  }
  bool contains(mach_port_name_t name) const noexcept { return find(name) != nullptr; }
  // The number of members (0 when closed).
  std::size_t size() const noexcept { return this->state() ? this->state()->members.size() : 0; }

  // The port set, for the synchronous receive (an empty set when closed). Never destroy it
  // or change its members through it: add(), remove() and release() do that.
  const port_set& set() const noexcept { return this->state() ? this->state()->set : empty_set(); }

  // Cancels, stops watching and gives every right back: the set, with the members still in
  // it, and the members' receive rights (queued messages stay in them). Empty if closed.
  released_port_set release() {
    released_port_set out;
    auto* s = this->state();
    if (!s) return out;
    out.members.reserve(s->members.size());  // may throw: nothing has changed yet
    auto p = this->detach();
    out.set = std::move(p->set);
    for (auto& [name, right] : p->members) out.members.push_back(std::move(right));
    return out;
  }

  // Receiving (the overloads are defined in detail::receive_object):
  //
  //   async_receive([options,] token)             -> void(error_code, mach_port_name_t, message)
  //   async_receive(message&& storage, [options,] token)    (the same, into storage's buffer)
  //   async_receive<T>([options,] token)          -> void(error_code, mach_port_name_t, T)
  //
  // async_receive receives one message from whichever member has one. The mach_port_name_t
  // is the member: the name of the receive right the message arrived on (the message's local
  // port; one of this set's members, or one that remove() has just taken out). Errors (member
  // MACH_PORT_NULL): operation_aborted (cancelled, or the set was closed / released /
  // moved-to); MACH_RCV_INVALID_NAME (the set is closed); MACH_RCV_PORT_DIED (the set was
  // destroyed behind this object's back); the errors of the synchronous receive other than a
  // timeout.
  //
  // async_receive<T> decodes the message as T (a typed message, or a std::variant of them):
  // the errors of async_receive(), and those of decode<T>: a message that does not match is
  // released and its error reported with a value-initialised T and the member that sent it.
  //
  // Everything else as basic_receive_port's async_receive: a message is taken only for a
  // pending operation, so cancelling never loses one; pending receives complete in the order
  // they were started; large messages are never dropped; terminal, partial and total
  // cancellation are honoured while no message is bound; the handler never runs inside the
  // initiating call and runs on its associated executor; work is tracked on both executors.

 private:
  static const port_set& empty_set() noexcept {
    static const port_set none;
    return none;
  }
};

}  // namespace machport
