/* What SPIFFS itself counts on an image: the recorder of tests/test_spiffs_free_pages.py.
 *
 * Not built by the tests (they hold its output). To record again, with pellepl/spiffs at
 * 0b2e129 (0.3.7-47) in SRC:
 *   gcc -O1 -I. -I$SRC/src -I$SRC/src/default -Wl,--wrap=spiffs_gc_check -o harness \
 *       harness.c $SRC/src/spiffs_{nucleus,hydrogen,gc,cache,check}.c
 *   ./harness IMAGE OUT [put PATH FILE CHUNK]...
 * Mounts IMAGE from RAM (NOR semantics: a write ANDs, an erase sets 0xFF), prints
 * SPIFFS_info and the counters behind it, and for each put does SPIFFS_open(CREAT|TRUNC|
 * RDWR), one SPIFFS_write per CHUNK bytes (0: one write), SPIFFS_close; every
 * spiffs_gc_check call prints the free-page figure SPIFFS computes from its counters.
 * OUT receives the image after unmount. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "spiffs.h"
#include "spiffs_nucleus.h"

static u8_t *flash;
static s32_t hread(spiffs *fs, u32_t a, u32_t n, u8_t *d) { (void)fs; memcpy(d, flash + a, n); return 0; }
static s32_t hwrite(spiffs *fs, u32_t a, u32_t n, u8_t *s) {
  (void)fs;
  for (u32_t i = 0; i < n; i++) flash[a + i] &= s[i];
  return 0;
}
static s32_t herase(spiffs *fs, u32_t a, u32_t n) { (void)fs; memset(flash + a, 0xff, n); return 0; }

/* spiffs_gc_check's own first line, computed the same way before calling it */
static s32_t free_pages(spiffs *fs) {
  return (SPIFFS_PAGES_PER_BLOCK(fs) - SPIFFS_OBJ_LOOKUP_PAGES(fs)) * (fs->block_count - 2)
      - fs->stats_p_allocated - fs->stats_p_deleted;
}

s32_t __real_spiffs_gc_check(spiffs *fs, u32_t len);
s32_t __wrap_spiffs_gc_check(spiffs *fs, u32_t len) {
  printf("gc_check free=%d alloc=%u deleted=%u free_blocks=%u len=%u\n", free_pages(fs),
         fs->stats_p_allocated, fs->stats_p_deleted, fs->free_blocks, len);
  return __real_spiffs_gc_check(fs, len);
}

static spiffs fs;
static u8_t work[512], fds[64 * 10], cache[(256 + 64) * 12];

static void counters(const char *tag) {
  u32_t total = 0, used = 0;
  SPIFFS_info(&fs, &total, &used);
  printf("%s total=%u used=%u alloc=%u deleted=%u free_blocks=%u free_pages=%d gc_runs=%u\n", tag,
         total, used, fs.stats_p_allocated, fs.stats_p_deleted, fs.free_blocks, free_pages(&fs),
         fs.stats_gc_runs);
}

static u8_t *slurp(const char *path, long *n) {
  FILE *f = fopen(path, "rb");
  if (!f) exit(2);
  fseek(f, 0, SEEK_END);
  *n = ftell(f);
  rewind(f);
  u8_t *d = malloc(*n + 1);
  if (fread(d, 1, *n, f) != (size_t)*n) exit(2);
  fclose(f);
  return d;
}

int main(int argc, char **argv) {
  long len;
  flash = slurp(argv[1], &len);
  spiffs_config cfg = {0};
  cfg.hal_read_f = hread;
  cfg.hal_write_f = hwrite;
  cfg.hal_erase_f = herase;
  cfg.phys_size = len;
  cfg.phys_erase_block = 4096;
  cfg.log_block_size = 4096;
  cfg.log_page_size = 256;
  s32_t res = SPIFFS_mount(&fs, &cfg, work, fds, sizeof(fds), cache, sizeof(cache), 0);
  printf("mount %d\n", res);
  if (res) return 1;
  counters("mounted");
  for (int i = 3; i + 3 < argc; i += 4) {
    long n;
    u8_t *d = slurp(argv[i + 2], &n);
    long chunk = atol(argv[i + 3]);
    spiffs_file fh = SPIFFS_open(&fs, argv[i + 1], SPIFFS_O_CREAT | SPIFFS_O_TRUNC | SPIFFS_O_RDWR, 0);
    printf("open %s %d\n", argv[i + 1], fh);
    for (long off = 0; fh >= 0 && off < n;) {
      long k = chunk && chunk < n - off ? chunk : n - off;
      s32_t w = SPIFFS_write(&fs, fh, d + off, k);
      if (w < 0) { printf("write at %ld: %d\n", off, w); break; }
      off += k;
    }
    printf("close %d\n", SPIFFS_close(&fs, fh));
    counters("after");
    free(d);
  }
  SPIFFS_unmount(&fs);
  FILE *f = fopen(argv[2], "wb");
  fwrite(flash, 1, len, f);
  fclose(f);
  return 0;
}
