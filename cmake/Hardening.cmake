# Hardening for every build: stack protector, stack clash protection,
# control-flow protection (x86), position-independent executables, full
# RELRO with immediate binding, a non-executable stack; optimised builds
# without a sanitizer add _FORTIFY_SOURCE=3 (it needs optimisation, and
# the sanitizers intercept the unchecked functions). tests/build/
# check-hardening verifies the result on the binaries.
include(CheckCCompilerFlag)
include(CheckPIESupported)
check_pie_supported()
set(CMAKE_POSITION_INDEPENDENT_CODE ON)

foreach(flag -fstack-protector-strong -fstack-clash-protection -fcf-protection)
  string(MAKE_C_IDENTIFIER "DRV_HAS${flag}" var)
  check_c_compiler_flag(${flag} ${var})
  if(${var})
    add_compile_options(${flag})
  endif()
endforeach()
add_link_options(-Wl,-z,relro -Wl,-z,now -Wl,-z,noexecstack)

if(NOT DRV_SANITIZE AND NOT DRV_TSAN AND
   CMAKE_BUILD_TYPE MATCHES "^(Release|RelWithDebInfo|MinSizeRel)$")
  add_compile_options(-U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=3)
endif()
