# cabundle.cmake: run esp-cabundle from an ESP-IDF (or any CMake) project.
#
#   include(cabundle.cmake)
#   cabundle_generate(${CMAKE_CURRENT_LIST_DIR}/cabundle.yaml)       # at configure time
#   cabundle_target(cabundle ${CMAKE_CURRENT_LIST_DIR}/cabundle.yaml) # at build time
#
# cabundle_generate runs before project() so the files exist when ESP-IDF's mbedtls
# component reads CONFIG_MBEDTLS_CUSTOM_CERTIFICATE_BUNDLE_PATH; CMake re-runs it when
# cabundle.yaml changes. cabundle_target makes a target other steps can DEPEND on (e.g.
# spiffs_create_partition_image). A refused bundle (policy, lock, a target that would
# reject it) stops the build with esp-cabundle's own message.

find_program(ESP_CABUNDLE esp-cabundle)
if(NOT ESP_CABUNDLE)
  message(FATAL_ERROR "esp-cabundle not found: pip install it in the Python that runs the build")
endif()

function(cabundle_generate config)
  execute_process(
    COMMAND ${ESP_CABUNDLE} build -c ${config} --quiet
    RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "esp-cabundle build -c ${config} failed (exit ${rc})")
  endif()
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${config})
endfunction()

function(cabundle_target name config)
  add_custom_target(${name}
    COMMAND ${ESP_CABUNDLE} build -c ${config} --quiet
    COMMENT "esp-cabundle: CA files from ${config}"
    VERBATIM)
endfunction()
