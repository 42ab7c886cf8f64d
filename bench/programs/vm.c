/* Interpreter workload: a switch-dispatched bytecode virtual machine.
 *
 * Usage: vm [N]   (default 3000)
 * Assembles a small stack-machine program that, for i in 1..N, sums the
 * Collatz stopping times of (i mod 65536) + 1 and folds every value into a hash, runs it in a
 * switch-in-a-loop interpreter, and prints the program's results together
 * with the number of instructions executed.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

enum opcode {
    OP_PUSH, /* push immediate */
    OP_LOAD, /* push register[imm] */
    OP_STORE, /* pop into register[imm] */
    OP_ADD,
    OP_SUB,
    OP_MUL,
    OP_AND,
    OP_XOR,
    OP_SHR,
    OP_SHL,
    OP_LT,
    OP_EQ,
    OP_DUP,
    OP_POP,
    OP_JMP, /* jump to imm */
    OP_JZ, /* pop; jump to imm if zero */
    OP_JNZ, /* pop; jump to imm if non-zero */
    OP_INC, /* register[imm] += 1 */
    OP_HALT,
};

#define MAX_CODE 256
#define MAX_LABELS 16

struct assembler {
    int32_t code[MAX_CODE];
    int32_t len;
    int32_t labels[MAX_LABELS];
    int32_t fixups[MAX_CODE]; /* label index to patch at this position, or -1 */
};

static void emit(struct assembler *as, enum opcode op, int32_t imm) {
    as->fixups[as->len] = -1;
    as->code[as->len++] = (int32_t)op;
    as->fixups[as->len] = -1;
    as->code[as->len++] = imm;
}

static void emit_jump(struct assembler *as, enum opcode op, int32_t label) {
    emit(as, op, 0);
    as->fixups[as->len - 1] = label;
}

static void bind(struct assembler *as, int32_t label) { as->labels[label] = as->len; }

static void link(struct assembler *as) {
    for (int32_t i = 0; i < as->len; i++) {
        if (as->fixups[i] >= 0) {
            as->code[i] = as->labels[as->fixups[i]];
        }
    }
}

enum { R_I, R_N, R_X, R_STEPS, R_HASH, R_MAX };
enum { L_OUTER, L_INNER, L_EVEN, L_NEXT, L_DONE };

static void assemble(struct assembler *as) {
    as->len = 0;
    emit(as, OP_PUSH, 1);
    emit(as, OP_STORE, R_I);
    bind(as, L_OUTER); /* while (i <= n) */
    emit(as, OP_LOAD, R_N);
    emit(as, OP_LOAD, R_I);
    emit(as, OP_LT, 0);
    emit_jump(as, OP_JNZ, L_DONE);
    emit(as, OP_LOAD, R_I); /* x = (i & 0xFFFF) + 1 keeps every trajectory below 2^32 */
    emit(as, OP_PUSH, 0xFFFF);
    emit(as, OP_AND, 0);
    emit(as, OP_PUSH, 1);
    emit(as, OP_ADD, 0);
    emit(as, OP_STORE, R_X);
    bind(as, L_INNER); /* while (x != 1) */
    emit(as, OP_LOAD, R_X);
    emit(as, OP_PUSH, 1);
    emit(as, OP_EQ, 0);
    emit_jump(as, OP_JNZ, L_NEXT);
    emit(as, OP_INC, R_STEPS);
    emit(as, OP_LOAD, R_X);
    emit(as, OP_PUSH, 1);
    emit(as, OP_AND, 0);
    emit_jump(as, OP_JZ, L_EVEN);
    emit(as, OP_LOAD, R_X); /* x = 3x + 1 */
    emit(as, OP_PUSH, 3);
    emit(as, OP_MUL, 0);
    emit(as, OP_PUSH, 1);
    emit(as, OP_ADD, 0);
    emit(as, OP_STORE, R_X);
    emit_jump(as, OP_JMP, L_INNER);
    bind(as, L_EVEN); /* x = x >> 1 */
    emit(as, OP_LOAD, R_X);
    emit(as, OP_PUSH, 1);
    emit(as, OP_SHR, 0);
    emit(as, OP_STORE, R_X);
    emit_jump(as, OP_JMP, L_INNER);
    bind(as, L_NEXT); /* hash = (hash << 5) - hash ^ steps; i++ */
    emit(as, OP_LOAD, R_HASH);
    emit(as, OP_PUSH, 5);
    emit(as, OP_SHL, 0);
    emit(as, OP_LOAD, R_HASH);
    emit(as, OP_SUB, 0);
    emit(as, OP_LOAD, R_STEPS);
    emit(as, OP_XOR, 0);
    emit(as, OP_STORE, R_HASH);
    emit(as, OP_INC, R_I);
    emit_jump(as, OP_JMP, L_OUTER);
    bind(as, L_DONE);
    emit(as, OP_HALT, 0);
    link(as);
}

static uint64_t run(const int32_t *code, uint32_t *regs) {
    uint32_t stack[64];
    int32_t sp = 0;
    int32_t pc = 0;
    uint64_t executed = 0;
    for (;;) {
        int32_t op = code[pc];
        int32_t imm = code[pc + 1];
        pc += 2;
        executed++;
        switch (op) {
        case OP_PUSH: stack[sp++] = (uint32_t)imm; break;
        case OP_LOAD: stack[sp++] = regs[imm]; break;
        case OP_STORE: regs[imm] = stack[--sp]; break;
        case OP_ADD: sp--; stack[sp - 1] += stack[sp]; break;
        case OP_SUB: sp--; stack[sp - 1] -= stack[sp]; break;
        case OP_MUL: sp--; stack[sp - 1] *= stack[sp]; break;
        case OP_AND: sp--; stack[sp - 1] &= stack[sp]; break;
        case OP_XOR: sp--; stack[sp - 1] ^= stack[sp]; break;
        case OP_SHR: sp--; stack[sp - 1] >>= (stack[sp] & 31u); break;
        case OP_SHL: sp--; stack[sp - 1] <<= (stack[sp] & 31u); break;
        case OP_LT: sp--; stack[sp - 1] = stack[sp - 1] < stack[sp]; break;
        case OP_EQ: sp--; stack[sp - 1] = stack[sp - 1] == stack[sp]; break;
        case OP_DUP: stack[sp] = stack[sp - 1]; sp++; break;
        case OP_POP: sp--; break;
        case OP_JMP: pc = imm; break;
        case OP_JZ: if (stack[--sp] == 0) pc = imm; break;
        case OP_JNZ: if (stack[--sp] != 0) pc = imm; break;
        case OP_INC: regs[imm]++; break;
        case OP_HALT: return executed;
        default:
            fprintf(stderr, "bad opcode %" PRId32 " at %" PRId32 "\n", op, pc - 2);
            exit(2);
        }
    }
}

int main(int argc, char **argv) {
    uint32_t n = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 10) : 3000u;
    static struct assembler as;
    assemble(&as);
    uint32_t regs[R_MAX] = {0};
    regs[R_N] = n;
    uint64_t executed = run(as.code, regs);
    printf("vm n=%" PRIu32 " steps=%" PRIu32 " hash=%08" PRIx32 " executed=%" PRIu64 "\n", n,
           regs[R_STEPS], regs[R_HASH], executed);
    return 0;
}
