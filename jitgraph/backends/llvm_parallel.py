"""Threads for big loop nests: `jg_parallel_for(fn, ctx, n, nthreads)` splits [0, n) into
nthreads contiguous chunks, runs chunk 0 on the calling thread and the others on fresh
pthreads, joins them and returns the first nonzero code any chunk returned.

Emitted into each module that needs it (internal linkage), in LLVM IR: no C compiler and no
extra library. A thread that cannot be created runs its chunk on the calling thread, so the
result never depends on how many threads the system grants. `nthreads` is read at run time
from `jg_num_threads` (llvm_jit sets it from JITGRAPH_NUM_THREADS / the core count), so it
is not baked into cached object code. The calling thread holds no Python state while the
chunks run (the entry function is called with the GIL released when it is big)."""
from __future__ import annotations

from llvmlite import ir

from .llvm_lower import I32, I64, PTR, Lowerer

MAX_THREADS = 64
# one argument block per chunk: fn, ctx, start, end, pthread_t, rc, started
ARGS = ir.LiteralStructType([PTR, PTR, I64, I64, I64, I32, I32])
KERNEL = ir.FunctionType(I32, [PTR, I64, I64])


def _c(x: int, ty: ir.IntType = I64) -> ir.Constant:
    return ir.Constant(ty, x)


def _f(b: ir.IRBuilder, p: ir.Value, i: int) -> ir.Value:
    return b.gep(p, [_c(0, I32), _c(i, I32)], source_etype=ARGS)


class _Indirect:
    """A function pointer held in a register, as llvmlite's call() wants it (it looks for
    `function_type`; with opaque pointers the value itself cannot say)."""

    def __init__(self, v: ir.Value, fnty: ir.FunctionType):
        self.v, self.function_type, self.type = v, fnty, PTR

    def get_reference(self) -> str:
        return self.v.get_reference()


def _icall(b: ir.IRBuilder, fp: ir.Value, args: list[ir.Value]) -> ir.Value:
    return b.call(_Indirect(fp, KERNEL), args)  # type: ignore[arg-type]


def _trampoline(lw: Lowerer) -> ir.Function:
    """void *jg_par_thread(void *args): run one chunk, keep its code."""
    name = "jg_par_thread"
    if name in lw.module.globals:
        return lw.module.globals[name]
    fn = ir.Function(lw.module, ir.FunctionType(PTR, [PTR]), name)
    fn.linkage = "internal"
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    a = fn.args[0]
    rc = _icall(b, b.load(_f(b, a, 0), typ=PTR),
                [b.load(_f(b, a, 1), typ=PTR), b.load(_f(b, a, 2), typ=I64),
                 b.load(_f(b, a, 3), typ=I64)])
    b.store(rc, _f(b, a, 5))
    b.ret(ir.Constant(PTR, None))
    return fn


def _runner(lw: Lowerer) -> ir.Function:
    name = "jg_parallel_for"
    if name in lw.module.globals:
        return lw.module.globals[name]
    create = lw.declare("jg_pthread_create", I32, [PTR, PTR, PTR, PTR])
    join = lw.declare("jg_pthread_join", I32, [I64, PTR])
    lw.abi.symbols["jg_pthread_create"] = ("libc", "pthread_create")
    lw.abi.symbols["jg_pthread_join"] = ("libc", "pthread_join")
    tramp = _trampoline(lw)
    fn = ir.Function(lw.module, ir.FunctionType(I32, [PTR, PTR, I64, I64]), name)
    fn.linkage = "internal"
    kfn, ctx, n, req = fn.args
    bb = {k: fn.append_basic_block(k) for k in
          ("entry", "spawn", "spawn.body", "inline", "spawned", "main", "join", "join.body",
           "do_join", "after_join", "done")}
    b = ir.IRBuilder(bb["entry"])
    args = b.alloca(ARGS, size=_c(MAX_THREADS))
    args.type = PTR
    nt = b.select(b.icmp_signed("<", req, n), req, n)
    nt = b.select(b.icmp_signed(">", nt, _c(MAX_THREADS)), _c(MAX_THREADS), nt)
    nt = b.select(b.icmp_signed("<", nt, _c(1)), _c(1), nt)

    def chunk(t: ir.Value) -> tuple[ir.Value, ir.Value]:
        lo = b.sdiv(b.mul(n, t), nt)
        hi = b.sdiv(b.mul(n, b.add(t, _c(1))), nt)
        return lo, hi

    b.branch(bb["spawn"])
    b.position_at_end(bb["spawn"])
    t = b.phi(I64)
    t.add_incoming(_c(1), bb["entry"])
    b.cbranch(b.icmp_signed("<", t, nt), bb["spawn.body"], bb["main"])
    b.position_at_end(bb["spawn.body"])
    a = b.gep(args, [t], source_etype=ARGS)
    lo, hi = chunk(t)
    for i, v in ((0, kfn), (1, ctx), (2, lo), (3, hi)):
        b.store(v, _f(b, a, i))
    b.store(_c(0, I32), _f(b, a, 5))
    r = b.call(create, [_f(b, a, 4), ir.Constant(PTR, None), tramp, a])
    ok = b.icmp_signed("==", r, _c(0, I32))
    b.store(b.zext(ok, I32), _f(b, a, 6))
    b.cbranch(ok, bb["spawned"], bb["inline"])
    b.position_at_end(bb["inline"])            # no thread: run the chunk here
    rc = _icall(b, kfn, [ctx, lo, hi])
    b.store(rc, _f(b, a, 5))
    b.branch(bb["spawned"])
    b.position_at_end(bb["spawned"])
    t.add_incoming(b.add(t, _c(1)), bb["spawned"])
    b.branch(bb["spawn"])
    b.position_at_end(bb["main"])
    lo, hi = chunk(_c(0))
    rc0 = _icall(b, kfn, [ctx, lo, hi])
    b.branch(bb["join"])
    b.position_at_end(bb["join"])
    j = b.phi(I64)
    acc = b.phi(I32)
    j.add_incoming(_c(1), bb["main"])
    acc.add_incoming(rc0, bb["main"])
    b.cbranch(b.icmp_signed("<", j, nt), bb["join.body"], bb["done"])
    b.position_at_end(bb["join.body"])
    a = b.gep(args, [j], source_etype=ARGS)
    started = b.icmp_signed("!=", b.load(_f(b, a, 6), typ=I32), _c(0, I32))
    after = bb["after_join"]
    b.cbranch(started, bb["do_join"], after)     # a chunk run inline has no thread
    b.position_at_end(bb["do_join"])
    b.call(join, [b.load(_f(b, a, 4), typ=I64), ir.Constant(PTR, None)])
    b.branch(after)
    b.position_at_end(after)
    rc = b.load(_f(b, a, 5), typ=I32)
    nacc = b.select(b.icmp_signed("!=", acc, _c(0, I32)), acc, rc)
    j.add_incoming(b.add(j, _c(1)), after)
    acc.add_incoming(nacc, after)
    b.branch(bb["join"])
    b.position_at_end(bb["done"])
    b.ret(acc)
    return fn


def parallel_for(lw: Lowerer, kernel: ir.Function, ctx: ir.Value, n: int) -> ir.Value:
    """Call kernel(ctx, lo, hi) over chunks of [0, n) on up to jg_num_threads threads."""
    nthreads = lw.extern_global("jg_num_threads", "threads", "")
    req = lw.b.load(nthreads, typ=I64)
    return lw.call(_runner(lw), [kernel, ctx, _c(n), req])
