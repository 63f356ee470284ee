# ctest driver (cmake -P): builds test/plain_sdk_consumer as a separate project against
# machport, either installed into a scratch prefix (MODE=find_package) or pulled in with
# add_subdirectory (MODE=add_subdirectory), then runs it.
# Inputs: MODE SOURCE_DIR BUILD_DIR WORK_DIR CONFIG CXX GENERATOR
cmake_minimum_required(VERSION 3.25)

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    string(REPLACE ";" " " cmd "${ARGN}")
    message(FATAL_ERROR "failed (${rc}): ${cmd}")
  endif()
endfunction()

if(NOT CONFIG)
  set(CONFIG Debug)
endif()
file(REMOVE_RECURSE "${WORK_DIR}")
set(consumer_args -S "${SOURCE_DIR}/test/plain_sdk_consumer" -B "${WORK_DIR}/build"
    -DCMAKE_BUILD_TYPE=${CONFIG} -DCMAKE_CXX_COMPILER=${CXX})
if(GENERATOR)
  list(APPEND consumer_args -G "${GENERATOR}")
endif()

if(MODE STREQUAL "find_package")
  run("${CMAKE_COMMAND}" --install "${BUILD_DIR}" --config ${CONFIG} --prefix "${WORK_DIR}/prefix")
  run("${CMAKE_COMMAND}" ${consumer_args} "-DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix")
elseif(MODE STREQUAL "add_subdirectory")
  run("${CMAKE_COMMAND}" ${consumer_args} "-DMACHPORT_SOURCE_DIR=${SOURCE_DIR}")
else()
  message(FATAL_ERROR "unknown MODE '${MODE}'")
endif()
run("${CMAKE_COMMAND}" --build "${WORK_DIR}/build" --parallel 2)
run("${WORK_DIR}/build/plain_sdk_consumer")
