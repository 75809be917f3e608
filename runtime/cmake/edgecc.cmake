# edgecc.cmake: compile ONNX/TFLite models to C at build time.
#
#   list(APPEND CMAKE_MODULE_PATH <output of `edgecc --cmake-dir`>)
#   include(edgecc)
#   edgecc_add_model(kws MODEL ${CMAKE_CURRENT_SOURCE_DIR}/kws.onnx CORE cortex-m4
#                    [CALIB calib.npz] [PREFIX kws] [BOARD nrf52840] [OPTIONS --memory ram ...])
#   target_link_libraries(firmware PRIVATE kws)
#
# The model is compiled when the build needs it and again only when the model, the calibration
# data, the options or edgecc itself change: edgecc writes a depfile listing its inputs (and its
# own files), and the options are kept in a stamp file the generation depends on.
#
# Variables:
#   EDGECC_COMMAND  the command that runs edgecc's C backend (default: `edgecc` plus
#                   `--emit c`; set it to "python3;-m;edgecc.backends.c" to use a Python directly)
#   CMSIS_NN_PATH   a CMSIS-NN checkout, for Cortex-M cores (or provide a target named cmsis-nn)
#
# The library target is static, C99, and links `edgecc_runtime` (edgecc's portable kernels,
# built once for all models from the installed package) and, for Cortex-M cores, `cmsis-nn`.

cmake_minimum_required(VERSION 3.20)

set(EDGECC_CMAKE_DIR "${CMAKE_CURRENT_LIST_DIR}")
get_filename_component(EDGECC_RUNTIME_DIR "${CMAKE_CURRENT_LIST_DIR}/../c" ABSOLUTE)

if(NOT DEFINED EDGECC_COMMAND)
  find_program(EDGECC_EXECUTABLE edgecc)
  if(EDGECC_EXECUTABLE)
    set(EDGECC_COMMAND "${EDGECC_EXECUTABLE}")
  endif()
endif()

function(_edgecc_runtime_target)
  if(TARGET edgecc_runtime)
    return()
  endif()
  file(GLOB _edgecc_rt_sources CONFIGURE_DEPENDS "${EDGECC_RUNTIME_DIR}/src/*.c")
  add_library(edgecc_runtime STATIC ${_edgecc_rt_sources})
  target_include_directories(edgecc_runtime PUBLIC "${EDGECC_RUNTIME_DIR}/include")
  set_target_properties(edgecc_runtime PROPERTIES C_STANDARD 99 C_STANDARD_REQUIRED ON)
  if(NOT CMAKE_SYSTEM_NAME STREQUAL "Generic")
    find_library(EDGECC_LIBM m)
    if(EDGECC_LIBM)
      target_link_libraries(edgecc_runtime PUBLIC "${EDGECC_LIBM}")
    endif()
  else()
    target_link_libraries(edgecc_runtime PUBLIC m)
  endif()
endfunction()

function(_edgecc_cmsis_nn_target)
  if(TARGET cmsis-nn)
    return()
  endif()
  if(NOT CMSIS_NN_PATH)
    message(FATAL_ERROR "edgecc: a Cortex-M model calls CMSIS-NN: set CMSIS_NN_PATH to a CMSIS-NN checkout "
                        "(or pass OPTIONS --kernels portable)")
  endif()
  file(GLOB_RECURSE _cmsis_sources CONFIGURE_DEPENDS "${CMSIS_NN_PATH}/Source/*.c")
  list(FILTER _cmsis_sources EXCLUDE REGEX "_(f16|f32|flt)\\.c$")
  add_library(cmsis-nn STATIC ${_cmsis_sources})
  target_include_directories(cmsis-nn PUBLIC "${CMSIS_NN_PATH}/Include")
  set_target_properties(cmsis-nn PROPERTIES C_STANDARD 99)
endfunction()

function(edgecc_add_model target)
  cmake_parse_arguments(ARG "" "MODEL;CORE;CALIB;PREFIX;BOARD" "OPTIONS" ${ARGN})
  if(NOT ARG_MODEL)
    message(FATAL_ERROR "edgecc_add_model(${target}): MODEL is required")
  endif()
  if(NOT ARG_CORE)
    set(ARG_CORE generic)
  endif()
  if(NOT ARG_PREFIX)
    string(MAKE_C_IDENTIFIER "${target}" ARG_PREFIX)
  endif()
  if(NOT EDGECC_COMMAND)
    message(FATAL_ERROR "edgecc: command not found; install edgecc or set EDGECC_COMMAND")
  endif()
  get_filename_component(_model "${ARG_MODEL}" ABSOLUTE)
  set(_out "${CMAKE_CURRENT_BINARY_DIR}/edgecc-gen/${target}")
  set(_depfile "${CMAKE_CURRENT_BINARY_DIR}/edgecc-gen/${target}.d")
  set(_stamp "${CMAKE_CURRENT_BINARY_DIR}/edgecc-gen/${target}.options")
  set(_args "${_model}" -t "${ARG_CORE}" -o "${_out}" --prefix "${ARG_PREFIX}" --depfile "${_depfile}" -q)
  set(_deps "${_model}" "${_stamp}")
  if(ARG_CALIB)
    get_filename_component(_calib "${ARG_CALIB}" ABSOLUTE)
    list(APPEND _args --calib "${_calib}")
    list(APPEND _deps "${_calib}")
  endif()
  if(ARG_BOARD)
    list(APPEND _args --board "${ARG_BOARD}")
  endif()
  set(_cmsis OFF)
  if(ARG_CORE MATCHES "^cortex-m" AND NOT "${ARG_OPTIONS}" MATCHES "portable")
    if(CMSIS_NN_PATH OR TARGET cmsis-nn)
      set(_cmsis ON)
    else()
      message(STATUS "edgecc: CMSIS_NN_PATH is not set: ${target} uses edgecc's portable kernels")
      list(APPEND _args --kernels portable)
    endif()
  endif()
  list(APPEND _args ${ARG_OPTIONS})
  list(GET EDGECC_COMMAND 0 _first)
  if(_first MATCHES "edgecc$")
    list(APPEND _args --emit c)
  endif()
  # the options are part of the inputs: a change rewrites the stamp and re-runs edgecc
  string(REPLACE ";" " " _line "${EDGECC_COMMAND};${_args}")
  file(CONFIGURE OUTPUT "${_stamp}" CONTENT "${_line}\n")
  set(_outputs "${_out}/${ARG_PREFIX}.h" "${_out}/${ARG_PREFIX}.c" "${_out}/${ARG_PREFIX}_weights.c")
  add_custom_command(
    OUTPUT ${_outputs}
    COMMAND ${EDGECC_COMMAND} ${_args}
    DEPENDS ${_deps}
    DEPFILE "${_depfile}"
    COMMENT "edgecc: ${ARG_MODEL} -> C for ${ARG_CORE}"
    VERBATIM)
  _edgecc_runtime_target()
  add_library(${target} STATIC "${_out}/${ARG_PREFIX}.c" "${_out}/${ARG_PREFIX}_weights.c")
  target_include_directories(${target} PUBLIC "${_out}")
  target_link_libraries(${target} PUBLIC edgecc_runtime)
  set_target_properties(${target} PROPERTIES C_STANDARD 99 C_STANDARD_REQUIRED ON)
  if(_cmsis)
    _edgecc_cmsis_nn_target()
    target_link_libraries(${target} PUBLIC cmsis-nn)
  endif()
endfunction()
