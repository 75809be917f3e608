# Toolchain file: Arm GNU toolchain (Debian gcc-arm-none-eabi), bare metal, newlib with nosys stubs.
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR arm)
set(CMAKE_C_COMPILER arm-none-eabi-gcc)
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)
set(EXAMPLE_CPU_FLAGS "-mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16" CACHE STRING "core flags")
set(CMAKE_C_FLAGS_INIT "${EXAMPLE_CPU_FLAGS} -ffunction-sections -fdata-sections")
set(CMAKE_EXE_LINKER_FLAGS_INIT "${EXAMPLE_CPU_FLAGS} --specs=nosys.specs -Wl,--gc-sections")
