/* Tail-call workload: a register-machine interpreter whose handlers dispatch by tail calls.
 *
 * Usage: tailcall [N]   (default 20000)
 * wasm-cflags: -mtail-call
 *
 * Every instruction handler ends in a guaranteed tail call (clang's musttail) to the
 * handler of the next instruction, through a table of function pointers: built for
 * wasm32 with -mtail-call, each dispatch is a `return_call_indirect`, so the
 * interpreter runs its ~8 N instructions in constant stack. The program hashes the
 * numbers 0..N-1 (FNV-1a style, 64-bit) and counts the hashes with bit 40 set, in
 * three rounds with different seeds. gcc builds it natively with sibling calls.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#if defined(__clang__)
#define MUSTTAIL __attribute__((musttail))
#else
#define MUSTTAIL
#endif

enum opcode { OP_LI, OP_ADDI, OP_XOR, OP_MUL, OP_SHR, OP_ANDI, OP_ADD, OP_BLT, OP_HALT, NUM_OPS };

struct insn {
    int32_t op, a, b, c; /* destination and sources (registers), or a branch target in c */
    uint64_t imm;
};

#define NUM_REGS 8

struct machine {
    uint64_t reg[NUM_REGS];
    uint64_t executed;
};

typedef uint64_t (*handler)(struct machine *m, const struct insn *code, int32_t pc);

static const handler handlers[NUM_OPS];

#define NEXT(next_pc)                                                                    \
    do {                                                                                 \
        int32_t to = (next_pc);                                                          \
        m->executed++;                                                                   \
        MUSTTAIL return handlers[code[to].op](m, code, to);                              \
    } while (0)

static uint64_t op_li(struct machine *m, const struct insn *code, int32_t pc) {
    m->reg[code[pc].a] = code[pc].imm;
    NEXT(pc + 1);
}

static uint64_t op_addi(struct machine *m, const struct insn *code, int32_t pc) {
    m->reg[code[pc].a] = m->reg[code[pc].b] + code[pc].imm;
    NEXT(pc + 1);
}

static uint64_t op_xor(struct machine *m, const struct insn *code, int32_t pc) {
    m->reg[code[pc].a] = m->reg[code[pc].b] ^ m->reg[code[pc].c];
    NEXT(pc + 1);
}

static uint64_t op_mul(struct machine *m, const struct insn *code, int32_t pc) {
    m->reg[code[pc].a] = m->reg[code[pc].b] * m->reg[code[pc].c];
    NEXT(pc + 1);
}

static uint64_t op_shr(struct machine *m, const struct insn *code, int32_t pc) {
    m->reg[code[pc].a] = m->reg[code[pc].b] >> code[pc].imm;
    NEXT(pc + 1);
}

static uint64_t op_andi(struct machine *m, const struct insn *code, int32_t pc) {
    m->reg[code[pc].a] = m->reg[code[pc].b] & code[pc].imm;
    NEXT(pc + 1);
}

static uint64_t op_add(struct machine *m, const struct insn *code, int32_t pc) {
    m->reg[code[pc].a] = m->reg[code[pc].b] + m->reg[code[pc].c];
    NEXT(pc + 1);
}

static uint64_t op_blt(struct machine *m, const struct insn *code, int32_t pc) {
    NEXT(m->reg[code[pc].a] < m->reg[code[pc].b] ? code[pc].c : pc + 1);
}

static uint64_t op_halt(struct machine *m, const struct insn *code, int32_t pc) {
    return m->reg[code[pc].a];
}

static const handler handlers[NUM_OPS] = {
    [OP_LI] = op_li,     [OP_ADDI] = op_addi, [OP_XOR] = op_xor,
    [OP_MUL] = op_mul,   [OP_SHR] = op_shr,   [OP_ANDI] = op_andi,
    [OP_ADD] = op_add,   [OP_BLT] = op_blt,   [OP_HALT] = op_halt,
};

enum { R_I, R_N, R_HASH, R_PRIME, R_COUNT, R_T };

/* for (i = 0; i < n; i++) { hash = (hash ^ i) * prime; count += (hash >> 40) & 1; } */
static const struct insn program_template[] = {
    {OP_LI, R_I, 0, 0, 0},
    {OP_LI, R_N, 0, 0, 0}, /* imm patched: n */
    {OP_LI, R_HASH, 0, 0, 0}, /* imm patched: seed */
    {OP_LI, R_PRIME, 0, 0, 0x100000001b3ULL},
    {OP_LI, R_COUNT, 0, 0, 0},
    {OP_XOR, R_HASH, R_HASH, R_I, 0}, /* 5: loop */
    {OP_MUL, R_HASH, R_HASH, R_PRIME, 0},
    {OP_SHR, R_T, R_HASH, 0, 40},
    {OP_ANDI, R_T, R_T, 0, 1},
    {OP_ADD, R_COUNT, R_COUNT, R_T, 0},
    {OP_ADDI, R_I, R_I, 0, 1},
    {OP_BLT, R_I, R_N, 5, 0},
    {OP_HALT, R_COUNT, 0, 0, 0},
};

#define PROGRAM_LEN (sizeof program_template / sizeof program_template[0])

int main(int argc, char **argv) {
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 20000;
    if (n < 1) {
        fprintf(stderr, "usage: tailcall [N >= 1]\n");
        return 2;
    }
    static const uint64_t seeds[3] = {0xcbf29ce484222325ULL, 0x84222325cbf29ce4ULL, 1};
    struct insn code[PROGRAM_LEN];
    uint64_t total = 0, hash_mix = 0, executed = 0;
    for (int round = 0; round < 3; round++) {
        for (size_t i = 0; i < PROGRAM_LEN; i++) code[i] = program_template[i];
        code[1].imm = (uint64_t)n;
        code[2].imm = seeds[round];
        struct machine m = {{0}, 0};
        uint64_t count = handlers[code[0].op](&m, code, 0);
        total += count;
        hash_mix = hash_mix * 31 + m.reg[R_HASH];
        executed += m.executed;
    }
    printf("tailcall n=%ld count=%" PRIu64 " hash=%016" PRIx64 " executed=%" PRIu64 "\n", n, total,
           hash_mix, executed);
    return 0;
}
