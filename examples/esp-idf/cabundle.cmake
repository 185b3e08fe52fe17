# cabundle.cmake: run esp-cabundle from an ESP-IDF (or any CMake) project.
#
#   include(cabundle.cmake)
#   cabundle_generate(${CMAKE_CURRENT_LIST_DIR}/cabundle.yaml)       # at configure time
#   cabundle_target(cabundle ${CMAKE_CURRENT_LIST_DIR}/cabundle.yaml) # at build time
#
# cabundle_generate runs before project() so the files exist when ESP-IDF's mbedtls
# component reads CONFIG_MBEDTLS_CUSTOM_CERTIFICATE_BUNDLE_PATH; CMake re-runs it when
# cabundle.yaml, or any file the build read (a saved chain, a root file...), changes.
# cabundle_target makes a target other steps can DEPEND on (e.g.
# spiffs_create_partition_image). A refused bundle (policy, lock, a target that would
# reject it) stops the build with esp-cabundle's own message.

find_program(ESP_CABUNDLE esp-cabundle)
if(NOT ESP_CABUNDLE)
  message(FATAL_ERROR "esp-cabundle not found: pip install it in the Python that runs the build")
endif()

function(cabundle_generate config)
  set(depfile ${CMAKE_BINARY_DIR}/cabundle.d)
  get_filename_component(config "${config}" ABSOLUTE)
  # The depfile names a file below the directory the build ran in relative to it:
  # run it in a known one, and read the names against that.
  execute_process(
    COMMAND ${ESP_CABUNDLE} build -c ${config} --quiet --depfile ${depfile}
    WORKING_DIRECTORY ${CMAKE_BINARY_DIR}
    RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "esp-cabundle build -c ${config} failed (exit ${rc})")
  endif()
  # Configure again when any file the build read changes (the depfile lists them, one
  # per line after the outputs, in make's escaping): not only cabundle.yaml but the
  # saved chains of its targets, root files, a board file and the Mozilla store.
  file(READ ${depfile} text)
  string(FIND "${text}" "\n\n" rule_end)            # then an empty rule per input: skip
  if(NOT rule_end EQUAL -1)
    string(SUBSTRING "${text}" 0 ${rule_end} text)
  endif()
  string(REPLACE " \\\n" "\n" text "${text}")       # the continued lines, ended
  string(FIND "${text}" "\n" eol)                   # the outputs' line: skip it
  math(EXPR eol "${eol} + 1")
  string(SUBSTRING "${text}" ${eol} -1 text)
  string(REPLACE "\n" ";" lines "${text}")
  set(inputs ${config})
  foreach(line IN LISTS lines)
    string(STRIP "${line}" line)
    string(REPLACE "\\ " " " line "${line}")
    string(REPLACE "\\#" "#" line "${line}")
    string(REPLACE "$$" "$" line "${line}")
    if(line)
      get_filename_component(line "${line}" ABSOLUTE BASE_DIR ${CMAKE_BINARY_DIR})
      list(APPEND inputs "${line}")
    endif()
  endforeach()
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${inputs})
endfunction()

function(cabundle_target name config)
  add_custom_target(${name}
    COMMAND ${ESP_CABUNDLE} build -c ${config} --quiet
    COMMENT "esp-cabundle: CA files from ${config}"
    VERBATIM)
endfunction()
