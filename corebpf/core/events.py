"""Ring buffers and perf buffers delivering BTF-decoded records.

    rb = obj.ring_buffer("events", on_event)   # on_event(record)
    while True:
        rb.poll(100)
        if rb.lost_since_last(): ...

Records are decoded with the object's BTF (the type named by the
EVENTS_RINGBUF / EVENTS_PERFBUF macros).  An exception raised by a callback
stops consumption and is re-raised from poll() once libbpf has returned.
Loss is never silent: ring buffers read the BPF side's count of failed
reserves, perf buffers count PERF_RECORD_LOST.
"""
from __future__ import annotations

import collections
import errno
import mmap
import os
import select

from ._libbpf import ffi, lib
from .errors import ConfigError, check_int, check_ptr


def signal_fd(signals) -> int:
    """A signalfd (non-blocking, close-on-exec) that is readable while one of
    `signals` is pending, or -1 where the kernel or libc has none.  The
    signals must be blocked (a program that takes them with sigtimedwait):
    adding the fd to a poll set beside a buffer's fileno ends the wait as soon
    as the signal arrives, instead of at the poll's timeout.  Reading the fd
    would consume the signal; a caller only polls it."""
    from ._libbpf import libc
    mask = bytearray(128)                   # glibc's sigset_t; the kernel reads 8 bytes
    for s in signals:
        mask[(int(s) - 1) // 8] |= 1 << ((int(s) - 1) % 8)
    try:
        return libc.signalfd(-1, ffi.from_buffer(mask), os.O_NONBLOCK | os.O_CLOEXEC)
    except (AttributeError, ffi.error):
        return -1


def _online_cpus():
    from .features import online_cpus
    return online_cpus()


class _Consumer:
    def __init__(self, obj):
        self._obj = obj
        self._error = None
        self._callbacks = []     # keep ffi callbacks alive as long as libbpf may call them
        self._reported = 0
        self._closed = False

    def _onerror(self, exc_type, exc, tb):
        """cffi's last resort: an exception that escaped a callback before its
        own try block ran (a signal handler raising KeyboardInterrupt at the
        callback's first bytecode) is kept and re-raised from poll(), never
        printed and dropped."""
        if self._error is None:
            self._error = exc if exc is not None else exc_type()
        return None

    def _reraise(self):
        if self._error is not None:
            e, self._error = self._error, None
            raise e

    def lost_since_last(self) -> int:
        """Records lost since the previous call."""
        total = self.lost
        n = total - self._reported
        self._reported = total
        return n

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


_BUSY = 1 << 31           # BPF_RINGBUF_BUSY_BIT: reserved, not yet committed
_DISCARD = 1 << 30        # BPF_RINGBUF_DISCARD_BIT
_HDR = 8                  # BPF_RINGBUF_HDR_SZ: u32 len (+ the two bits), u32 page offset


def _fence():
    """A full memory barrier on CPUs that reorder loads (arm64, ...); None on
    x86, whose stores are seen in order and whose loads are not reordered
    with other loads or later stores (CPython performs them in program order).

    The kernel publishes a record with a store-release of its header and
    expects the consumer to read its position with a load-acquire (libbpf's
    smp_load_acquire/smp_store_release).  Python has no such loads; libc's
    pthread_spin_unlock (a store-release) followed by pthread_spin_lock (an
    atomic with acquire semantics) on a private lock orders every access
    before the pair before every access after it (ARMv8: release -> acquire
    is ordered, RCsc).  It is called three times per batch, not per record."""
    if os.uname().machine in ("x86_64", "i386", "i486", "i586", "i686"):
        return None
    from ._libbpf import libc
    lock = ffi.new("int *")
    libc.pthread_spin_init(lock, 0)     # the unlocked value is libc's (x86's is 1)
    unlock_, lock_ = libc.pthread_spin_unlock, libc.pthread_spin_lock
    lock_(lock)

    def fence():
        unlock_(lock)
        lock_(lock)
    fence.lock = lock           # keep the lock alive as long as the fence
    return fence


class _Ring:
    """One BPF ring buffer map read through its mmapped pages, as libbpf
    does (kernel/bpf/ringbuf.c's layout): page 0 the consumer position (ours
    to write), page 1 the producer position, then the data pages.  The
    kernel offers the data pages twice in a row (a record that wraps is
    contiguous there), but it populates the whole mapping at mmap time, so
    the second copy would count the buffer twice in the resident set (4 MB
    more for opensnoop's default): they are mapped once, and the few records
    that wrap are copied from their two parts.  A header never wraps (the
    data size is a multiple of the page, records of 8 bytes)."""

    def __init__(self, fd: int, size: int, codec, callback):
        page = mmap.PAGESIZE
        self._cmap = mmap.mmap(fd, page, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        try:
            self._dmap = mmap.mmap(fd, page + size, mmap.MAP_SHARED, mmap.PROT_READ,
                                   offset=page)
        except BaseException:
            self._cmap.close()
            raise
        self.cons = memoryview(self._cmap).cast("Q")
        self.prod = memoryview(self._dmap)[:8].cast("Q")
        self.words = memoryview(self._dmap)[page:].cast("I")
        self.page = page
        self.size = size
        self.mask = size - 1
        # decode_span(buf, off, end): a record decoded in place from the
        # mapping (no slice, no copy of the record first)
        self.decode = codec.decode_span if codec is not None else None
        self.callback = callback

    def take(self, limit: int, fence, pending) -> int:
        """Decode up to `limit` committed records, queue them on `pending`,
        release their space to the producers and return how many (the
        kernel may overwrite the space as soon as the consumer position
        moves: no record refers to it)."""
        cons = self.cons[0]
        prod = self.prod[0]
        if cons == prod:
            return 0
        if fence is not None:
            fence()             # headers after the producer position
        mask, words = self.mask, self.words
        spans = []
        pos = cons
        limit *= 2              # spans: offset, size, offset, size...
        while pos < prod and len(spans) < limit:
            off = pos & mask
            ln = words[off >> 2]
            if ln & _BUSY:
                break
            size = ln & ~_DISCARD
            pos += (size + _HDR + 7) & ~7
            if not ln & _DISCARD:
                spans.append(off)
                spans.append(size)
        if pos == cons:
            return 0
        if not spans:
            if fence is not None:
                fence()
            self.cons[0] = pos      # only discarded records
            return 0
        if fence is not None:
            fence()             # record bodies after their committed headers
        data, decode, skip = self._dmap, self.decode, self.page + _HDR
        it = iter(spans)
        if (cons & mask) + (pos - cons) > self.size:
            recs = self._take_wrapped(spans)    # the batch runs past the end
        elif decode is None:
            recs = [data[o + skip:o + skip + n] for o, n in zip(it, it)]
        else:
            recs = [decode(data, o + skip, o + skip + n) for o, n in zip(it, it)]
        if fence is not None:
            fence()             # our reads done before the space is given back
        # queued, then released: no call (where Python would raise a
        # pending KeyboardInterrupt) between the two
        pending.append([self.callback, recs, 0])
        self.cons[0] = pos
        return len(recs)

    def _take_wrapped(self, spans):
        """The records of a batch in which one runs past the end of the
        data pages: that one is copied from its two parts."""
        data, decode, size = self._dmap, self.decode, self.size
        base = self.page
        skip = base + _HDR
        recs = []
        it = iter(spans)
        for o, n in zip(it, it):
            end = o + _HDR + n
            if end > size:
                buf = data[o + skip:base + size] + data[base:base + end - size]
                recs.append(buf if decode is None else decode(buf, 0, n))
            elif decode is None:
                recs.append(data[o + skip:o + skip + n])
            else:
                recs.append(decode(data, o + skip, o + skip + n))
        return recs

    def close(self):
        for v in (self.words, self.prod, self.cons):
            v.release()
        self._dmap.close()
        self._cmap.close()


class RingBuffer(_Consumer):
    """One or more BPF ring buffer maps polled together.

    Records are read straight from the mmapped ring (no cffi callback per
    record: that callback was most of the consumer's cost), decoded a batch
    at a time, the space handed back to the producers, then delivered to the
    callbacks.  A poll delivers at most BATCH records, so that a flood of
    events cannot keep the caller from printing, seeing Ctrl-C or bounding
    its memory.  An exception raised by a callback is re-raised from poll();
    the records decoded after it are delivered by the next poll/consume.

    libbpf's ring_buffer (a cffi callback per record) remains the fallback
    where the ring cannot be mapped, and is used with
    COREBPF_RINGBUF=libbpf."""

    BATCH = 4096

    def __init__(self, obj):
        super().__init__(obj)
        self._rb = None
        self._maps = []
        self._obj_links = obj
        self._n = 0
        self._rings = []
        self._epoll = None
        self._pending = collections.deque()     # [callback, records, next index]
        self._specs = []
        self._fence = None
        self._direct = os.environ.get("COREBPF_RINGBUF", "") != "libbpf"

    def add(self, map_name: str, callback, raw: bool = False, raw_text: bool = False):
        """Deliver records of ring buffer `map_name` to callback(record)
        (raw: the bytes; raw_text: char[] fields unescaped, for JSON)."""
        m = self._obj.maps.get(map_name)
        if m is None:
            raise ConfigError(f"{self._obj.name}: no map {map_name!r}")
        codec = None if raw else self._obj.event_codec(map_name, raw_text)
        if not raw and codec is None:
            raise ConfigError(f"{self._obj.name}: no record type for {map_name!r} "
                              "(declare it with EVENTS_RINGBUF)")
        decode = codec.decode if codec is not None else None
        if self._direct:
            try:
                ring = _Ring(m.fd, m.max_entries, codec, callback)
            except (OSError, ValueError):
                self._to_libbpf()           # every map of this buffer
            else:
                if self._epoll is None:
                    self._epoll = select.epoll()
                    self._fence = _fence()
                self._epoll.register(m.fd, select.EPOLLIN)
                self._rings.append(ring)
                self._specs.append((map_name, callback, decode))
                self._maps.append(map_name)
                return self
        self._add_libbpf(map_name, callback, decode)
        return self

    def _to_libbpf(self):
        """The ring could not be mapped: libbpf consumes every map instead."""
        self._direct = False
        specs, self._specs, self._maps = self._specs, [], []
        for r in self._rings:
            r.close()
        self._rings = []
        if self._epoll is not None:
            self._epoll.close()
            self._epoll = None
        for spec in specs:
            self._add_libbpf(*spec)

    def _add_libbpf(self, map_name, callback, decode):
        m = self._obj.maps[map_name]
        buffer = ffi.buffer

        def on_sample(_ctx, data, size):
            try:
                if decode is None:
                    callback(buffer(data, size)[:])
                else:
                    callback(decode(buffer(data, size)))
                self._n += 1
                # a negative return stops libbpf after this record (consumed)
                return -errno.EAGAIN if self._n >= self.BATCH else 0
            except BaseException as e:      # re-raised from poll()
                self._error = e
                return -1

        cb = ffi.callback("int(void *, void *, size_t)", on_sample, error=-1,
                          onerror=self._onerror)
        self._callbacks.append(cb)
        L = lib()
        if self._rb is None:
            self._rb = check_ptr(L.ring_buffer__new(m.fd, cb, ffi.NULL, ffi.NULL),
                                 "ring_buffer__new", map_name)
        else:
            check_int(L.ring_buffer__add(self._rb, m.fd, cb, ffi.NULL),
                      "ring_buffer__add", map_name)
        self._maps.append(map_name)

    # -- the direct consumer ------------------------------------------------------------
    def _deliver(self) -> int:
        """Hand queued records to their callbacks, in order.  A record whose
        callback raised counts as delivered (as with libbpf); the exception
        propagates and the rest stays queued for the next poll."""
        q = self._pending
        n = 0
        while q:
            entry = q[0]
            cb, recs, i = entry
            start, end = i, len(recs)
            try:
                while i < end:
                    rec = recs[i]
                    i += 1
                    cb(rec)
            finally:
                entry[2] = i
                n += i - start
            q.popleft()
        return n

    def _drain(self) -> int:
        """Take what the rings hold (at most BATCH records) and deliver it."""
        n = self._deliver() if self._pending else 0
        room = self.BATCH - n
        fence, pending = self._fence, self._pending
        for ring in self._rings:
            if room <= 0:
                break
            room -= ring.take(room, fence, pending)
        if pending:
            n += self._deliver()
        return n

    def poll(self, timeout_ms: int = 100) -> int:
        """Wait up to timeout_ms for records and deliver them (at most BATCH);
        return how many."""
        if self._rb is None and self._rings:
            n = self._drain()
            if n or timeout_ms == 0:
                return n
            self._epoll.poll(timeout_ms / 1000 if timeout_ms > 0 else -1)
            return self._drain()
        self._n = 0
        r = lib().ring_buffer__poll(self._rb, timeout_ms)
        self._reraise()
        if r == -errno.EINTR:
            return 0
        if r == -errno.EAGAIN:
            return self._n
        return check_int(r, "ring_buffer__poll", ",".join(self._maps))

    def consume(self) -> int:
        """Deliver what is ready without waiting (at most BATCH records)."""
        if self._rb is None and self._rings:
            return self._drain()
        self._n = 0
        r = lib().ring_buffer__consume(self._rb)
        self._reraise()
        if r in (-errno.EINTR, -errno.EAGAIN):
            return self._n
        return check_int(r, "ring_buffer__consume", ",".join(self._maps))

    @property
    def fileno(self) -> int:
        """An epoll fd that is readable when records wait (for select/poll loops)."""
        if self._epoll is not None:
            return self._epoll.fileno()
        return lib().ring_buffer__epoll_fd(self._rb)

    @property
    def lost(self) -> int:
        """Records the BPF side failed to reserve, over all maps (running total)."""
        return sum(self._obj.read_counter(f"__corebpf_lost__{m}") for m in self._maps)

    def close(self):
        """Free the ring buffer manager and unmap the rings (idempotent; the
        Object does it too)."""
        if not self._closed:
            if self._rb is not None:
                lib().ring_buffer__free(self._rb)
            for r in self._rings:
                r.close()
            if self._epoll is not None:
                self._epoll.close()
        self._closed = True
        self._rb = None
        self._rings = []
        self._epoll = None


class PerfBuffer(_Consumer):
    """A BPF perf event array, one ring per CPU."""

    def __init__(self, obj, map_name, callback, lost_callback=None, page_cnt=64, raw=False,
                 raw_text=False):
        super().__init__(obj)
        m = obj.maps.get(map_name)
        if m is None:
            raise ConfigError(f"{obj.name}: no map {map_name!r}")
        if page_cnt <= 0 or page_cnt & (page_cnt - 1):
            raise ConfigError(f"perf buffer pages must be a power of two, not {page_cnt}")
        from .maps import check_memory
        check_memory([(f"{map_name} (perf buffer)", page_cnt * 4096 * len(_online_cpus()),
                       None)], obj.name)
        codec = None if raw else obj.event_codec(map_name, raw_text)
        if not raw and codec is None:
            raise ConfigError(f"{obj.name}: no record type for {map_name!r} "
                              "(declare it with EVENTS_PERFBUF)")
        decode = codec.decode if codec is not None else None
        buffer = ffi.buffer
        self._lost = 0
        self.map_name = map_name

        def on_sample(_ctx, cpu, data, size):
            if self._error is not None:
                return
            try:
                if decode is None:
                    callback(buffer(data, size)[:])
                else:
                    callback(decode(buffer(data, size)))
            except BaseException as e:
                self._error = e

        def on_lost(_ctx, cpu, count):
            self._lost += count
            if lost_callback is not None and self._error is None:
                try:
                    lost_callback(cpu, count)
                except BaseException as e:
                    self._error = e

        self._callbacks = [ffi.callback("void(void *, int, void *, __u32)", on_sample,
                                        onerror=self._onerror),
                           ffi.callback("void(void *, int, __u64)", on_lost,
                                        onerror=self._onerror)]
        self._pb = check_ptr(lib().perf_buffer__new(m.fd, page_cnt, self._callbacks[0],
                                                    self._callbacks[1], ffi.NULL, ffi.NULL),
                             "perf_buffer__new", map_name)

    def poll(self, timeout_ms: int = 100) -> int:
        """Wait up to timeout_ms for records and deliver them; return how many.
        An exception raised by a callback is re-raised here."""
        r = lib().perf_buffer__poll(self._pb, timeout_ms)
        self._reraise()
        if r == -errno.EINTR:
            return 0
        return check_int(r, "perf_buffer__poll", self.map_name)

    def consume(self) -> int:
        """Deliver what is ready on every CPU without waiting."""
        r = lib().perf_buffer__consume(self._pb)
        self._reraise()
        return check_int(r, "perf_buffer__consume", self.map_name)

    @property
    def fileno(self) -> int:
        """An epoll fd that is readable when records wait."""
        return lib().perf_buffer__epoll_fd(self._pb)

    @property
    def lost(self) -> int:
        """Records the kernel dropped because a CPU's buffer was full (running total)."""
        return self._lost

    def close(self):
        """Free the perf buffer (idempotent; the Object does it too)."""
        if not self._closed and self._pb is not None:
            lib().perf_buffer__free(self._pb)
        self._closed = True
        self._pb = None
