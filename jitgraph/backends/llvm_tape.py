"""Tapes in native code: the per-iteration stacks that loop gradients push to (forward
loop) and pop from (reverse loop). See ops/adjoint.py for the ops' meaning.

Per call, the entry function holds one tape table in its frame: {entries, n, cap}, each
entry {data, len, cap} a growable byte buffer (realloc). A handle is an entry's index, so
handles are plain i64 values that loops may carry. Every buffer is freed in the entry
function's exit block, on success and on error alike. The helpers are internal functions
of the module, emitted once; a bad handle, an underflow or a failed allocation returns
null and the caller leaves with ERR_TAPE."""
from __future__ import annotations

from llvmlite import ir

from .llvm_lower import I8, I64, PTR, Lowerer

ENTRY = ir.LiteralStructType([PTR, I64, I64])   # data, len, cap
STATE = ir.LiteralStructType([PTR, I64, I64])   # entries, n, cap
ERR_TAPE = 3


def _c(x: int) -> ir.Constant:
    return ir.Constant(I64, x)


def _field(b: ir.IRBuilder, p: ir.Value, ty: ir.Type, i: int) -> ir.Value:
    return b.gep(p, [ir.Constant(ir.IntType(32), 0), ir.Constant(ir.IntType(32), i)],
                 source_etype=ty)


def _libc(lw: Lowerer) -> tuple[ir.Function, ir.Function]:
    realloc = lw.declare("jg_realloc", PTR, [PTR, I64])
    free = lw.declare("jg_free", ir.VoidType(), [PTR])
    lw.abi.symbols["jg_realloc"] = ("libc", "realloc")
    lw.abi.symbols["jg_free"] = ("libc", "free")
    return realloc, free


def state(lw: Lowerer) -> ir.Value:
    """The call's tape table (made, zeroed and scheduled for freeing on first use)."""
    st = getattr(lw, "_tape_state", None)
    if st is not None:
        return st
    st = lw.alloca(STATE)
    lw.ab.store(ir.Constant(STATE, [ir.Constant(PTR, None), _c(0), _c(0)]), st)
    lw._tape_state = st   # type: ignore[attr-defined]
    free_all = _free_fn(lw)
    lw.cleanups.append(lambda b: b.call(free_all, [st]))
    return st


def _fn(lw: Lowerer, name: str, ret: ir.Type, args: list[ir.Type]) -> tuple[ir.Function, bool]:
    if name in lw.module.globals:
        return lw.module.globals[name], False
    fn = ir.Function(lw.module, ir.FunctionType(ret, args), name)
    fn.linkage = "internal"
    return fn, True


def _free_fn(lw: Lowerer) -> ir.Function:
    fn, new = _fn(lw, "jg_tape_free", ir.VoidType(), [PTR])
    if not new:
        return fn
    _, free = _libc(lw)
    entry, loop, done = (fn.append_basic_block(x) for x in ("entry", "loop", "done"))
    b = ir.IRBuilder(entry)
    st = fn.args[0]
    ents = b.load(_field(b, st, STATE, 0), typ=PTR)
    n = b.load(_field(b, st, STATE, 1), typ=I64)
    b.cbranch(b.icmp_signed(">", n, _c(0)), loop, done)
    b.position_at_end(loop)
    i = b.phi(I64)
    i.add_incoming(_c(0), entry)
    e = b.gep(ents, [i], source_etype=ENTRY)
    b.call(free, [b.load(_field(b, e, ENTRY, 0), typ=PTR)])
    i2 = b.add(i, _c(1))
    i.add_incoming(i2, loop)
    b.cbranch(b.icmp_signed("<", i2, n), loop, done)
    b.position_at_end(done)
    b.call(free, [ents])
    b.ret_void()
    return fn


def _new_fn(lw: Lowerer) -> ir.Function:
    """i64 jg_tape_new(state): a fresh empty entry's index, or -1."""
    fn, new = _fn(lw, "jg_tape_new", I64, [PTR])
    if not new:
        return fn
    realloc, _ = _libc(lw)
    entry, grow, ok, fail = (fn.append_basic_block(x) for x in ("entry", "grow", "ok", "fail"))
    b = ir.IRBuilder(entry)
    st = fn.args[0]
    n = b.load(_field(b, st, STATE, 1), typ=I64)
    cap = b.load(_field(b, st, STATE, 2), typ=I64)
    b.cbranch(b.icmp_signed(">=", n, cap), grow, ok)
    b.position_at_end(grow)
    ncap = b.select(b.icmp_signed("<", cap, _c(8)), _c(8), b.mul(cap, _c(2)))
    p = b.call(realloc, [b.load(_field(b, st, STATE, 0), typ=PTR), b.mul(ncap, _c(24))])
    b.store(p, _field(b, st, STATE, 0))
    b.store(ncap, _field(b, st, STATE, 2))
    b.cbranch(b.icmp_unsigned("==", p, ir.Constant(PTR, None)), fail, ok)
    b.position_at_end(fail)
    b.store(n, _field(b, st, STATE, 2))   # nothing was allocated beyond n
    b.ret(_c(-1))
    b.position_at_end(ok)
    e = b.gep(b.load(_field(b, st, STATE, 0), typ=PTR), [n], source_etype=ENTRY)
    b.store(ir.Constant(ENTRY, [ir.Constant(PTR, None), _c(0), _c(0)]), e)
    b.store(b.add(n, _c(1)), _field(b, st, STATE, 1))
    b.ret(n)
    return fn


def _entry(b: ir.IRBuilder, st: ir.Value, h: ir.Value, bad: ir.Block) -> ir.Value:
    n = b.load(_field(b, st, STATE, 1), typ=I64)
    good = b.function.append_basic_block("handle_ok")
    b.cbranch(b.icmp_unsigned("<", h, n), good, bad)
    b.position_at_end(good)
    return b.gep(b.load(_field(b, st, STATE, 0), typ=PTR), [h], source_etype=ENTRY)


def _push_fn(lw: Lowerer) -> ir.Function:
    """ptr jg_tape_push(state, h, nbytes): where to write nbytes on top of h, or null."""
    fn, new = _fn(lw, "jg_tape_push", PTR, [PTR, I64, I64])
    if not new:
        return fn
    realloc, _ = _libc(lw)
    entry, grow, ok, fail = (fn.append_basic_block(x) for x in ("entry", "grow", "ok", "fail"))
    b = ir.IRBuilder(entry)
    st, h, nb = fn.args
    e = _entry(b, st, h, fail)
    ln = b.load(_field(b, e, ENTRY, 1), typ=I64)
    cap = b.load(_field(b, e, ENTRY, 2), typ=I64)
    need = b.add(ln, nb)
    b.cbranch(b.icmp_signed(">", need, cap), grow, ok)
    b.position_at_end(grow)
    dbl = b.mul(cap, _c(2))
    ncap = b.select(b.icmp_signed(">", need, dbl), need, dbl)
    ncap = b.select(b.icmp_signed("<", ncap, _c(256)), _c(256), ncap)
    p = b.call(realloc, [b.load(_field(b, e, ENTRY, 0), typ=PTR), ncap])
    grown = b.block
    okp = fn.append_basic_block("grown")
    b.cbranch(b.icmp_unsigned("==", p, ir.Constant(PTR, None)), fail, okp)
    b.position_at_end(okp)
    b.store(p, _field(b, e, ENTRY, 0))
    b.store(ncap, _field(b, e, ENTRY, 2))
    b.branch(ok)
    del grown
    b.position_at_end(ok)
    data = b.load(_field(b, e, ENTRY, 0), typ=PTR)
    b.store(need, _field(b, e, ENTRY, 1))
    b.ret(b.gep(data, [ln], source_etype=I8))
    b.position_at_end(fail)
    b.ret(ir.Constant(PTR, None))
    return fn


def _pop_fn(lw: Lowerer) -> ir.Function:
    """ptr jg_tape_pop(state, h, nbytes): the top nbytes of h (now popped), or null."""
    fn, new = _fn(lw, "jg_tape_pop", PTR, [PTR, I64, I64])
    if not new:
        return fn
    entry, ok, fail = (fn.append_basic_block(x) for x in ("entry", "ok", "fail"))
    b = ir.IRBuilder(entry)
    st, h, nb = fn.args
    e = _entry(b, st, h, fail)
    ln = b.load(_field(b, e, ENTRY, 1), typ=I64)
    b.cbranch(b.icmp_signed("<", ln, nb), fail, ok)
    b.position_at_end(ok)
    rest = b.sub(ln, nb)
    b.store(rest, _field(b, e, ENTRY, 1))
    b.ret(b.gep(b.load(_field(b, e, ENTRY, 0), typ=PTR), [rest], source_etype=I8))
    b.position_at_end(fail)
    b.ret(ir.Constant(PTR, None))
    return fn


def tape_new(lw: Lowerer) -> ir.Value:
    h = lw.call(_new_fn(lw), [state(lw)])
    lw.fail_if(lw.b.icmp_signed("<", h, _c(0)), ERR_TAPE)
    return h


def tape_reserve(lw: Lowerer, h: ir.Value, nbytes: int) -> ir.Value:
    p = lw.call(_push_fn(lw), [state(lw), h, _c(nbytes)])
    lw.fail_if(lw.b.icmp_unsigned("==", p, ir.Constant(PTR, None)), ERR_TAPE)
    return p


def tape_take(lw: Lowerer, h: ir.Value, nbytes: int) -> ir.Value:
    p = lw.call(_pop_fn(lw), [state(lw), h, _c(nbytes)])
    lw.fail_if(lw.b.icmp_unsigned("==", p, ir.Constant(PTR, None)), ERR_TAPE)
    return p
