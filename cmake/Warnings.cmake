# Warnings go on an INTERFACE target linked only into our own targets.
add_library(drv_warnings INTERFACE)
target_compile_options(drv_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes
  -Wmissing-declarations -Wold-style-definition -Wcast-qual -Wwrite-strings
  -Wpointer-arith -Wundef -Wformat=2 -Wvla -Wimplicit-fallthrough
  -Werror=implicit-function-declaration)
target_compile_definitions(drv_warnings INTERFACE _POSIX_C_SOURCE=200809L _DEFAULT_SOURCE)
if(DRV_WERROR)
  target_compile_options(drv_warnings INTERFACE -Werror)
endif()
