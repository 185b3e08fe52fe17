/* pellepl/spiffs's default spiffs_config.h includes "params_test.h": here, ESP-IDF's
 * configuration (components/spiffs/include/spiffs_config.h with the Kconfig defaults):
 * name 32, meta 4, magic + magic length, read and write caches, GC max runs 10. Page
 * 256 and block 4096 are set at mount by harness.c, as esp_spiffs.c does. */
#ifndef PARAMS_TEST_H_
#define PARAMS_TEST_H_
typedef signed int s32_t;
typedef unsigned int u32_t;
typedef signed short s16_t;
typedef unsigned short u16_t;
typedef signed char s8_t;
typedef unsigned char u8_t;
#define SPIFFS_USE_MAGIC 1
#define SPIFFS_USE_MAGIC_LENGTH 1
#define SPIFFS_HAL_CALLBACK_EXTRA 1
#define SPIFFS_FILEHDL_OFFSET 0
#define SPIFFS_GC_MAX_RUNS 10
#define SPIFFS_OBJ_NAME_LEN 32
#define SPIFFS_OBJ_META_LEN 4
#define SPIFFS_GC_STATS 1
#define SPIFFS_CACHE_STATS 0
#define SPIFFS_TEST_VISUALISATION 0
#define SPIFFS_LOCK(fs)
#define SPIFFS_UNLOCK(fs)
#endif
