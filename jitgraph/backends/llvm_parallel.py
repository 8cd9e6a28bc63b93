"""Threads for big loop nests: a persistent pool of worker threads, written in LLVM IR (no C
compiler, no extra library) as ONE runtime module per process (`pool_module`), which
llvm_jit compiles the first time a graph needs it. Graph modules only call

    i32 jg_pool_run(ptr fn, ptr ctx, i64 n, i64 nthreads)

which runs fn(ctx, lo, hi) over contiguous chunks of [0, n) on the calling thread and the
pool's workers and returns the first nonzero code a chunk returned (0 if none).
`nthreads` is read by the caller at run time from `jg_num_threads` (llvm_jit sets it from
JITGRAPH_NUM_THREADS / the core count), so it is not baked into cached object code; the
pool grows to nthreads - 1 workers on demand and never shrinks (a lower cap makes fewer
chunks).

Protocol (the shared state is this module's globals):
- A job is CHUNKS_PER_THREAD * nthreads chunks. Everyone (the caller and the workers)
  takes chunks by compare-and-swap on one 64-bit word `claim` = generation << 32 |
  nchunks << 16 | next chunk, and reads the job's fn/ctx/n only after a successful claim
  (acquire; the caller stored them before publishing `claim` with release). So a worker
  that wakes late, even after its job finished, takes nothing it should not: the caller
  never waits for a particular worker, only for the chunks taken to be done (`done`).
  A sleeping worker costs the caller no wake-up latency: it just runs more chunks itself
  (one arriving late may make the caller wait for the chunk it took: finer chunks bound
  that wait).
- The caller publishes a job by storing its fields and `claim`, then bumping `gen` under
  the pool mutex and broadcasting `work`. Workers spin on `gen` for `jg_pool_spin` pause
  instructions after each job (a job soon after, as in a loop of calls, starts within a
  microsecond), giving the CPU away every YIELD_EVERY pauses (a worker sharing a core with
  the thread it waits for must not hold that core), then sleep on `work`.
- Whoever finishes the last chunk signals `done`; the caller, done with its own chunks,
  spins on `done` the same way and then sleeps on it. The count is checked under the
  mutex and signalled under it, so no wakeup is lost.
- Jobs do not nest (an outlined chunk never starts threads). Two Python threads may call
  big kernels at once (the GIL is released): one job runs on the pool at a time (a submit
  lock), and a caller that finds it busy runs its loop alone.
- A worker that cannot be created is simply not there; results never depend on how many
  threads the system grants or on which thread ran which chunk.
- llvm_jit calls `jg_pool_shutdown` at interpreter exit (workers leave their loop and are
  joined before the JIT's code is freed) and `jg_pool_after_fork` in a forked child (which
  has no workers: the pool state is reset, its mutexes re-initialised).

pthread mutexes and condition variables are opaque blobs here: zero bytes are glibc's
static initialisers, and 64 bytes is more than their size on every 64-bit glibc target
(40 and 48)."""
from __future__ import annotations

from collections.abc import Callable

from llvmlite import ir

from .llvm_lower import I32, I64, PTR, Lowerer

MAX_THREADS = 64
CHUNKS_PER_THREAD = 4    # finer than one chunk per thread: a late worker can still help
KERNEL = ir.FunctionType(I32, [PTR, I64, I64])
RUN = ir.FunctionType(I32, [PTR, PTR, I64, I64])
SYNC_BYTES = 64          # room for a pthread_mutex_t / pthread_cond_t, zero-initialised
DEFAULT_SPIN = 4000      # pauses a worker / the caller spins before sleeping (~100 us)
YIELD_EVERY = 32         # pauses between sched_yield calls while spinning (a power of 2)
I1, I8 = ir.IntType(1), ir.IntType(8)
VOID = ir.VoidType()
LIBC = ("pthread_create", "pthread_join", "pthread_mutex_lock", "pthread_mutex_unlock",
        "pthread_mutex_trylock", "pthread_cond_wait", "pthread_cond_broadcast",
        "pthread_cond_signal", "sched_yield")


def _c(x: int, ty: ir.IntType = I64) -> ir.Constant:
    return ir.Constant(ty, x)


class _Indirect:
    """A function pointer held in a register, as llvmlite's call() wants it (it looks for
    `function_type`; with opaque pointers the value itself cannot say)."""

    def __init__(self, v: ir.Value, fnty: ir.FunctionType):
        self.v, self.function_type, self.type = v, fnty, PTR

    def get_reference(self) -> str:
        return self.v.get_reference()


def _icall(b: ir.IRBuilder, fp: ir.Value, args: list[ir.Value]) -> ir.Value:
    return b.call(_Indirect(fp, KERNEL), args)  # type: ignore[arg-type]


def _store_atomic(b: ir.IRBuilder, v: ir.Value, ptr: ir.Value, ordering: str) -> None:
    """builder.store_atomic, which insists on typed pointers."""
    b._insert(ir.instructions.StoreAtomicInstr(b.block, v, ptr, ordering,
                                               v.type.width // 8))


def parallel_for(lw: Lowerer, kernel: ir.Function, ctx: ir.Value, n: int) -> ir.Value:
    """Call kernel(ctx, lo, hi) over chunks of [0, n) on up to jg_num_threads threads."""
    nthreads = lw.extern_global("jg_num_threads", "threads", "")
    req = lw.b.load(nthreads, typ=I64)
    run = lw.declare("jg_pool_run", I32, [PTR, PTR, I64, I64])
    lw.abi.symbols["jg_pool_run"] = ("pool", "run")
    return lw.call(run, [kernel, ctx, _c(n), req])


# ---------------------------------------------------------------------- the pool module
class _Pool:
    """Builds the pool module: globals, the claim loop, worker, run, shutdown, after_fork."""

    def __init__(self, triple: str):
        self.m = ir.Module(name="jg_pool")
        self.pause_kind = "x86" if triple.startswith(("x86_64", "i686", "i386")) else \
            "arm" if triple.startswith(("aarch64", "arm64")) else ""
        self.g: dict[str, ir.GlobalVariable] = {}
        sync = ir.ArrayType(I8, SYNC_BYTES)
        for name in ("submit", "mutex", "work", "done_cv"):
            self._global(name, sync, ir.Constant(sync, None), 64)
        for name, ty in (("gen", I64), ("claim", I64), ("done", I64), ("rc", I32),
                         ("fn", PTR), ("ctx", PTR), ("n", I64), ("started", I64),
                         ("quit", I32)):
            self._global(name, ty, ir.Constant(ty, None), 64)   # one cache line each
        self._global("spin", I64, _c(DEFAULT_SPIN), 8).linkage = ""   # llvm_jit may set it
        for name in ("ids", "tids"):
            t = ir.ArrayType(I64, MAX_THREADS)
            self._global(name, t, ir.Constant(t, None), 64)
        self.libc = {name: ir.Function(self.m, self._libc_type(name), f"jg_{name}")
                     for name in LIBC}
        self.take = self._take_chunks()
        self.worker = self._worker()
        self._run()
        self._shutdown()
        self._after_fork()

    def _global(self, name: str, ty: ir.Type, init: ir.Constant, align: int
                ) -> ir.GlobalVariable:
        gv = ir.GlobalVariable(self.m, ty, f"jg_pool_{name}")
        gv.type = PTR                        # opaque pointers only
        gv.initializer = init
        gv.linkage = "internal"
        gv.align = align
        self.g[name] = gv
        return gv

    @staticmethod
    def _libc_type(name: str) -> ir.FunctionType:
        if name == "pthread_create":
            return ir.FunctionType(I32, [PTR, PTR, PTR, PTR])
        if name == "pthread_join":
            return ir.FunctionType(I32, [I64, PTR])
        if name == "pthread_cond_wait":
            return ir.FunctionType(I32, [PTR, PTR])
        if name == "sched_yield":
            return ir.FunctionType(I32, [])
        return ir.FunctionType(I32, [PTR])

    # -- helpers
    def call(self, b: ir.IRBuilder, name: str, *args: ir.Value) -> ir.Value:
        return b.call(self.libc[name], list(args))

    def _intrinsic(self, name: str, ret: ir.Type, args: list[ir.Type]) -> ir.Function:
        if name in self.m.globals:
            return self.m.globals[name]
        return ir.Function(self.m, ir.FunctionType(ret, args), name)

    def pause(self, b: ir.IRBuilder) -> None:
        if self.pause_kind == "x86":
            b.call(self._intrinsic("llvm.x86.sse2.pause", VOID, []), [])
        elif self.pause_kind == "arm":
            b.call(self._intrinsic("llvm.aarch64.hint", VOID, [I32]), [_c(1, I32)])

    def load(self, b: ir.IRBuilder, name: str, ty: ir.Type = I64, atomic: str = ""
             ) -> ir.Value:
        if atomic:
            return b.load_atomic(self.g[name], atomic, ty.width // 8, typ=ty)
        return b.load(self.g[name], typ=ty)

    def spin_until(self, fn: ir.Function, b: ir.IRBuilder,
                   ready: Callable[[ir.IRBuilder], ir.Value], label: str) -> None:
        """Spin up to jg_pool_spin pauses until ready(b); the caller then checks again
        (under the mutex) whether it must sleep."""
        entry = b.block
        head, body, yld, nxt, out = (fn.append_basic_block(f"{label}.{k}") for k in
                                     ("spin", "pause", "yield", "next", "spun"))
        limit = self.load(b, "spin")
        b.branch(head)
        b.position_at_end(head)
        i = b.phi(I64)
        i.add_incoming(_c(0), entry)
        b.cbranch(b.or_(ready(b), b.icmp_signed(">=", i, limit)), out, body)
        b.position_at_end(body)
        self.pause(b)
        b.cbranch(b.icmp_unsigned("==", b.and_(i, _c(YIELD_EVERY - 1)), _c(YIELD_EVERY - 1)),
                  yld, nxt)
        b.position_at_end(yld)
        self.call(b, "sched_yield")
        b.branch(nxt)
        b.position_at_end(nxt)
        i.add_incoming(b.add(i, _c(1)), nxt)
        b.branch(head)
        b.position_at_end(out)

    def lock(self, b: ir.IRBuilder, name: str = "mutex") -> None:
        self.call(b, "pthread_mutex_lock", self.g[name])

    def unlock(self, b: ir.IRBuilder, name: str = "mutex") -> None:
        self.call(b, "pthread_mutex_unlock", self.g[name])

    # -- void jg_pool_take(): take and run chunks of the current job until none is left
    def _take_chunks(self) -> ir.Function:
        fn = ir.Function(self.m, ir.FunctionType(VOID, []), "jg_pool_take")
        fn.linkage = "internal"
        bb = {k: fn.append_basic_block(k) for k in
              ("entry", "load", "try", "run", "fail", "count", "last", "out")}
        b = ir.IRBuilder(bb["entry"])
        b.branch(bb["load"])
        b.position_at_end(bb["load"])
        word = self.load(b, "claim", I64, "acquire")
        nxt = b.and_(word, _c(0xFFFF))
        nch = b.and_(b.lshr(word, _c(16)), _c(0xFFFF))
        b.cbranch(b.icmp_unsigned("<", nxt, nch), bb["try"], bb["out"])
        b.position_at_end(bb["try"])
        pair = b.cmpxchg(self.g["claim"], word, b.add(word, _c(1)), "acq_rel", "acquire")
        b.cbranch(b.extract_value(pair, 1), bb["run"], bb["load"])
        b.position_at_end(bb["run"])                 # chunk `nxt` is ours: the job's
        n = self.load(b, "n")                        # fields stay put until it is done
        lo = b.sdiv(b.mul(n, nxt), nch)
        hi = b.sdiv(b.mul(n, b.add(nxt, _c(1))), nch)
        rc = _icall(b, self.load(b, "fn", PTR), [self.load(b, "ctx", PTR), lo, hi])
        b.cbranch(b.icmp_signed("!=", rc, _c(0, I32)), bb["fail"], bb["count"])
        b.position_at_end(bb["fail"])
        b.cmpxchg(self.g["rc"], _c(0, I32), rc, "monotonic", "monotonic")
        b.branch(bb["count"])
        b.position_at_end(bb["count"])
        old = b.atomic_rmw("add", self.g["done"], _c(1), "acq_rel")
        b.cbranch(b.icmp_unsigned("==", b.add(old, _c(1)), nch), bb["last"], bb["load"])
        b.position_at_end(bb["last"])                # the job is complete: wake the caller
        self.lock(b)
        self.call(b, "pthread_cond_signal", self.g["done_cv"])
        self.unlock(b)
        b.branch(bb["out"])
        b.position_at_end(bb["out"])
        b.ret_void()
        return fn

    # -- void *jg_pool_worker(i64 *id)
    def _worker(self) -> ir.Function:
        fn = ir.Function(self.m, ir.FunctionType(PTR, [PTR]), "jg_pool_worker")
        fn.linkage = "internal"
        bb = {k: fn.append_basic_block(k) for k in
              ("entry", "loop", "sleep", "wait", "woke", "got", "unlock", "cont", "work",
               "exit")}
        b = ir.IRBuilder(bb["entry"])
        seen0 = self.load(b, "gen", I64, "acquire")
        b.branch(bb["work"])
        b.position_at_end(bb["work"])                # take whatever the current job has
        seen = b.phi(I64)
        seen.add_incoming(seen0, bb["entry"])
        b.call(self.take, [])
        b.branch(bb["loop"])
        b.position_at_end(bb["loop"])                # wait for the next generation
        self.spin_until(fn, b, lambda x: x.icmp_unsigned(
            "!=", self.load(x, "gen", I64, "acquire"), seen), "w")
        spun = b.block
        b.cbranch(b.icmp_unsigned("!=", self.load(b, "gen", I64, "acquire"), seen),
                  bb["got"], bb["sleep"])
        b.position_at_end(bb["sleep"])
        self.lock(b)
        b.branch(bb["wait"])
        b.position_at_end(bb["wait"])
        stale = b.icmp_unsigned("==", self.load(b, "gen", I64, "acquire"), seen)
        b.cbranch(stale, bb["woke"], bb["got"])
        b.position_at_end(bb["woke"])
        self.call(b, "pthread_cond_wait", self.g["work"], self.g["mutex"])
        b.branch(bb["wait"])
        b.position_at_end(bb["got"])                 # the mutex is held iff we slept
        held = b.phi(I1)
        held.add_incoming(ir.Constant(I1, 0), spun)
        held.add_incoming(ir.Constant(I1, 1), bb["wait"])
        b.cbranch(held, bb["unlock"], bb["cont"])
        b.position_at_end(bb["unlock"])
        self.unlock(b)
        b.branch(bb["cont"])
        b.position_at_end(bb["cont"])
        gen = self.load(b, "gen", I64, "acquire")
        seen.add_incoming(gen, bb["cont"])
        quit_ = b.icmp_signed("!=", self.load(b, "quit", I32), _c(0, I32))
        b.cbranch(quit_, bb["exit"], bb["work"])
        b.position_at_end(bb["exit"])
        b.ret(ir.Constant(PTR, None))
        return fn

    # -- i32 jg_pool_run(fn, ctx, n, req)
    def _run(self) -> None:
        fn = ir.Function(self.m, RUN, "jg_pool_run")
        kfn, ctx, n, req = fn.args
        bb = {k: fn.append_basic_block(k) for k in
              ("entry", "try", "alone", "pool", "grow", "grow.body", "grow.ok", "grow.done",
               "publish", "wait", "sleep", "check", "sleepw", "unlock", "collect")}
        b = ir.IRBuilder(bb["entry"])
        nt = b.select(b.icmp_signed("<", req, n), req, n)
        nt = b.select(b.icmp_signed(">", nt, _c(MAX_THREADS)), _c(MAX_THREADS), nt)
        b.cbranch(b.icmp_signed("<=", nt, _c(1)), bb["alone"], bb["try"])
        b.position_at_end(bb["try"])
        busy = b.icmp_signed("!=", self.call(b, "pthread_mutex_trylock", self.g["submit"]),
                             _c(0, I32))
        b.cbranch(busy, bb["alone"], bb["pool"])

        # alone: the whole range on this thread (one thread wanted, or the pool is busy
        # with another caller's job); the submit lock is not held here
        b.position_at_end(bb["alone"])
        b.ret(_icall(b, kfn, [ctx, _c(0), n]))

        # pool: make sure nt - 1 workers exist (creation may fail: fewer then)
        b.position_at_end(bb["pool"])
        started0 = self.load(b, "started")
        b.branch(bb["grow"])
        b.position_at_end(bb["grow"])
        have = b.phi(I64)
        have.add_incoming(started0, bb["pool"])
        b.cbranch(b.icmp_signed("<", b.add(have, _c(1)), nt), bb["grow.body"], bb["grow.done"])
        b.position_at_end(bb["grow.body"])
        w = b.add(have, _c(1))
        arr = ir.ArrayType(I64, MAX_THREADS)
        slot = b.gep(self.g["ids"], [_c(0), w], source_etype=arr)
        b.store(w, slot)
        tid = b.gep(self.g["tids"], [_c(0), w], source_etype=arr)
        r = self.call(b, "pthread_create", tid, ir.Constant(PTR, None), self.worker, slot)
        b.cbranch(b.icmp_signed("==", r, _c(0, I32)), bb["grow.ok"], bb["grow.done"])
        b.position_at_end(bb["grow.ok"])
        b.store(w, self.g["started"])
        have.add_incoming(w, bb["grow.ok"])
        b.branch(bb["grow"])

        b.position_at_end(bb["grow.done"])
        b.branch(bb["publish"])
        b.position_at_end(bb["publish"])
        threads = b.add(self.load(b, "started"), _c(1))
        threads = b.select(b.icmp_signed("<", threads, nt), threads, nt)
        nch = b.mul(threads, _c(CHUNKS_PER_THREAD))
        nch = b.select(b.icmp_signed("<", nch, n), nch, n)
        for name, v in (("fn", kfn), ("ctx", ctx), ("n", n), ("done", _c(0))):
            b.store(v, self.g[name])
        b.store(_c(0, I32), self.g["rc"])
        gen = b.add(self.load(b, "gen"), _c(1))
        word = b.or_(b.shl(gen, _c(32)), b.shl(nch, _c(16)))
        _store_atomic(b, word, self.g["claim"], "release")
        self.lock(b)
        _store_atomic(b, gen, self.g["gen"], "release")
        self.call(b, "pthread_cond_broadcast", self.g["work"])
        self.unlock(b)
        b.call(self.take, [])
        b.branch(bb["wait"])

        b.position_at_end(bb["wait"])                # chunks others took may still run
        self.spin_until(fn, b, lambda x: x.icmp_unsigned(
            "==", self.load(x, "done", I64, "acquire"), nch), "r")
        fin = b.icmp_unsigned("==", self.load(b, "done", I64, "acquire"), nch)
        b.cbranch(fin, bb["collect"], bb["sleep"])
        b.position_at_end(bb["sleep"])
        self.lock(b)
        b.branch(bb["check"])
        b.position_at_end(bb["check"])
        left = b.icmp_unsigned("!=", self.load(b, "done", I64, "acquire"), nch)
        b.cbranch(left, bb["sleepw"], bb["unlock"])
        b.position_at_end(bb["sleepw"])
        self.call(b, "pthread_cond_wait", self.g["done_cv"], self.g["mutex"])
        b.branch(bb["check"])
        b.position_at_end(bb["unlock"])
        self.unlock(b)
        b.branch(bb["collect"])
        b.position_at_end(bb["collect"])
        rc = self.load(b, "rc", I32, "acquire")
        self.unlock(b, "submit")
        b.ret(rc)

    # -- void jg_pool_shutdown(): workers leave their loop and are joined
    def _shutdown(self) -> None:
        fn = ir.Function(self.m, ir.FunctionType(VOID, []), "jg_pool_shutdown")
        entry, loop, body, done = (fn.append_basic_block(k) for k in
                                   ("entry", "loop", "body", "done"))
        b = ir.IRBuilder(entry)
        self.lock(b, "submit")
        self.lock(b)
        b.store(_c(1, I32), self.g["quit"])
        _store_atomic(b, b.add(self.load(b, "gen"), _c(1)), self.g["gen"], "release")
        self.call(b, "pthread_cond_broadcast", self.g["work"])
        self.unlock(b)
        started = self.load(b, "started")
        b.branch(loop)
        b.position_at_end(loop)
        w = b.phi(I64)
        w.add_incoming(_c(1), entry)
        b.cbranch(b.icmp_signed("<=", w, started), body, done)
        b.position_at_end(body)
        tid = b.load(b.gep(self.g["tids"], [_c(0), w],
                           source_etype=ir.ArrayType(I64, MAX_THREADS)), typ=I64)
        self.call(b, "pthread_join", tid, ir.Constant(PTR, None))
        w.add_incoming(b.add(w, _c(1)), body)
        b.branch(loop)
        b.position_at_end(done)
        b.store(_c(0), self.g["started"])
        b.store(_c(0, I32), self.g["quit"])
        self.unlock(b, "submit")
        b.ret_void()

    # -- void jg_pool_after_fork(): the child of a fork has no workers
    def _after_fork(self) -> None:
        fn = ir.Function(self.m, ir.FunctionType(VOID, []), "jg_pool_after_fork")
        b = ir.IRBuilder(fn.append_basic_block("entry"))
        zero = ir.Constant(ir.ArrayType(I8, SYNC_BYTES), None)
        for name in ("submit", "mutex", "work", "done_cv"):
            b.store(zero, self.g[name])
        for name, ty in (("started", I64), ("claim", I64), ("quit", I32)):
            b.store(ir.Constant(ty, 0), self.g[name])
        b.ret_void()


def pool_module(triple: str) -> ir.Module:
    """The pool's runtime module (pure; llvm_jit compiles it once per process)."""
    return _Pool(triple).m
