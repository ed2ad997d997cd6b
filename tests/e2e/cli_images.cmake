# Image metadata through the `environs` CLI (images, metadata sources,
# add-source of a generate-image tree, remove-source) against a real
# gateway, registry, broker, firewaller and imagemeta service on the sim
# cloud. Registered only once the imagemeta service is part of the build.
if(TARGET environs-imagemeta)
  en_test(NAME e2e.cli_images LABEL e2e TIMEOUT 300
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_cli_images.c ${PROJECT_SOURCE_DIR}/tests/harness.c
    LIBS en_bus)
  add_dependencies(e2e.cli_images environs environs-gateway environs-registry environs-broker
    environs-firewaller environs-imagemeta)
endif()
