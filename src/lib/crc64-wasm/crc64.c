// CRC-64/Jones (Redis: reflected poly 0xad93d23594c935a9, init 0, no final xor): slicing-by-16
// (update1) and three interleaved slicing-by-8 streams (update3), compiled to wasm32 by scripts/build-wasm.sh. No libc: the caller copies input into `input`,
// passes the running CRC as two 32-bit halves (no BigInt at the boundary) and reads the result
// from `result`. src/lib/crc64.ts is the reference the unit tests compare this with.
#include <stdint.h>

#define POLY 0x95ac9329ac4bc9b5ULL /* reflected */
#define INPUT_BYTES (1 << 17)

static uint64_t T[16][256];
static uint64_t X2N[64]; /* x^(2^k) mod P, to shift a CRC past n zero bytes */
uint8_t input[INPUT_BYTES];
uint64_t result;

uint32_t input_bytes(void) { return INPUT_BYTES; }

void init(void) {
  for (int b = 0; b < 256; b++) {
    uint64_t c = (uint64_t)b;
    for (int i = 0; i < 8; i++) c = c & 1 ? (c >> 1) ^ POLY : c >> 1;
    T[0][b] = c;
  }
  for (int k = 1; k < 16; k++)
    for (int b = 0; b < 256; b++) T[k][b] = (T[k - 1][b] >> 8) ^ T[0][T[k - 1][b] & 0xff];
}

static inline uint64_t load64(const uint8_t *p) {
  uint64_t v;
  __builtin_memcpy(&v, p, 8); /* wasm is little-endian, as the table layout assumes */
  return v;
}

static uint64_t bytewise(uint64_t crc, const uint8_t *p, uint32_t n) {
  while (n--) crc = (crc >> 8) ^ T[0][(crc ^ *p++) & 0xff];
  return crc;
}

static inline uint64_t block16(uint64_t crc, const uint8_t *p) {
  uint64_t a = crc ^ load64(p), b = load64(p + 8);
  return T[15][a & 0xff] ^ T[14][(a >> 8) & 0xff] ^ T[13][(a >> 16) & 0xff] ^ T[12][(a >> 24) & 0xff] ^
         T[11][(a >> 32) & 0xff] ^ T[10][(a >> 40) & 0xff] ^ T[9][(a >> 48) & 0xff] ^ T[8][a >> 56] ^
         T[7][b & 0xff] ^ T[6][(b >> 8) & 0xff] ^ T[5][(b >> 16) & 0xff] ^ T[4][(b >> 24) & 0xff] ^
         T[3][(b >> 32) & 0xff] ^ T[2][(b >> 40) & 0xff] ^ T[1][(b >> 48) & 0xff] ^ T[0][b >> 56];
}

static inline uint64_t block8(uint64_t crc, const uint8_t *p) {
  uint64_t a = crc ^ load64(p);
  return T[7][a & 0xff] ^ T[6][(a >> 8) & 0xff] ^ T[5][(a >> 16) & 0xff] ^ T[4][(a >> 24) & 0xff] ^
         T[3][(a >> 32) & 0xff] ^ T[2][(a >> 40) & 0xff] ^ T[1][(a >> 48) & 0xff] ^ T[0][a >> 56];
}

static uint64_t crc_one(uint64_t crc, const uint8_t *p, uint32_t n) {
  for (; n >= 16; n -= 16, p += 16) crc = block16(crc, p);
  return bytewise(crc, p, n);
}

/* GF(2) product of two reflected polynomials mod P (bit 63 is x^0), as zlib's multmodp. */
static uint64_t multmodp(uint64_t a, uint64_t b) {
  uint64_t m = 1ULL << 63, p = 0;
  for (;;) {
    if (a & m) {
      p ^= b;
      if ((a & (m - 1)) == 0) break;
    }
    m >>= 1;
    b = b & 1 ? (b >> 1) ^ POLY : b >> 1;
  }
  return p;
}

/* crc(A || B) from crc(A), crc(B) and |B|: A's CRC shifted past |B| zero bytes, xor B's. */
static uint64_t combine(uint64_t crc_a, uint64_t crc_b, uint32_t len_b) {
  if (!X2N[0]) {
    X2N[0] = 1ULL << 62; /* x^1 */
    for (int k = 1; k < 64; k++) X2N[k] = multmodp(X2N[k - 1], X2N[k - 1]);
  }
  uint64_t x = 1ULL << 63; /* x^0 */
  uint64_t n = (uint64_t)len_b * 8;
  for (int k = 0; n; n >>= 1, k++)
    if (n & 1) x = multmodp(X2N[k], x);
  return multmodp(x, crc_a) ^ crc_b;
}

static uint64_t join(uint32_t lo, uint32_t hi) { return ((uint64_t)hi << 32) | lo; }

/* One stream over input[0..n). */
void update1(uint32_t lo, uint32_t hi, uint32_t n) { result = crc_one(join(lo, hi), input, n); }

/* Three interleaved streams over thirds of input[0..n) (as Redis 8 does), combined at the end:
   the three table chains are independent, so their loads overlap. Slicing-by-8 here: three
   streams over the 16 tables were slower than one (bench/crc64.bench.ts). */
void update3(uint32_t lo, uint32_t hi, uint32_t n) {
  uint32_t third = (n / 3) & ~15u;
  if (third < 256) {
    result = crc_one(join(lo, hi), input, n);
    return;
  }
  const uint8_t *p0 = input, *p1 = input + third, *p2 = input + 2 * third;
  uint64_t c0 = join(lo, hi), c1 = 0, c2 = 0;
  for (uint32_t i = 0; i < third; i += 8) {
    c0 = block8(c0, p0 + i);
    c1 = block8(c1, p1 + i);
    c2 = block8(c2, p2 + i);
  }
  c2 = crc_one(c2, p2 + third, n - 3 * third);
  result = combine(combine(c0, c1, third), c2, n - 2 * third);
}
