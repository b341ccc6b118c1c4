if(DRV_SANITIZE AND DRV_TSAN)
  message(FATAL_ERROR "DRV_SANITIZE and DRV_TSAN cannot be combined")
endif()

if(DRV_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=all
                      -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()

# ThreadSanitizer: tests/run runs the e2e jobs suite against daemons built
# this way (tests/tsan/run).
if(DRV_TSAN)
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
  # linked into every executable made after this (see the file)
  add_library(drv_tsan_c11_threads OBJECT ${CMAKE_CURRENT_LIST_DIR}/tsan/c11_threads.c)
  target_link_libraries(drv_tsan_c11_threads PRIVATE drv_warnings Threads::Threads)
  link_libraries(drv_tsan_c11_threads)
endif()

if(DRV_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "DRV_FUZZ needs clang (libFuzzer)")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
