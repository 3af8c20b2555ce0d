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

import errno


from ._libbpf import ffi, lib
from .errors import ConfigError, check_int, check_ptr


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


class RingBuffer(_Consumer):
    """One or more BPF ring buffer maps polled together.

    A poll delivers at most BATCH records: libbpf's ring_buffer__poll would
    otherwise go on for as long as producers keep up with the Python
    callback (a flood of events), and the caller could neither print, nor
    see Ctrl-C, nor bound its memory meanwhile."""

    BATCH = 4096

    def __init__(self, obj):
        super().__init__(obj)
        self._rb = None
        self._maps = []
        self._obj_links = obj
        self._n = 0

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
        return self

    def poll(self, timeout_ms: int = 100) -> int:
        """Wait up to timeout_ms for records and deliver them (at most BATCH);
        return how many."""
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
        self._n = 0
        r = lib().ring_buffer__consume(self._rb)
        self._reraise()
        if r in (-errno.EINTR, -errno.EAGAIN):
            return self._n
        return check_int(r, "ring_buffer__consume", ",".join(self._maps))

    @property
    def fileno(self) -> int:
        return lib().ring_buffer__epoll_fd(self._rb)

    @property
    def lost(self) -> int:
        """Records the BPF side failed to reserve, over all maps (running total)."""
        return sum(self._obj.read_counter(f"__corebpf_lost__{m}") for m in self._maps)

    def close(self):
        if not self._closed and self._rb is not None:
            lib().ring_buffer__free(self._rb)
        self._closed = True
        self._rb = None


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
        r = lib().perf_buffer__poll(self._pb, timeout_ms)
        self._reraise()
        if r == -errno.EINTR:
            return 0
        return check_int(r, "perf_buffer__poll", self.map_name)

    def consume(self) -> int:
        r = lib().perf_buffer__consume(self._pb)
        self._reraise()
        return check_int(r, "perf_buffer__consume", self.map_name)

    @property
    def fileno(self) -> int:
        return lib().perf_buffer__epoll_fd(self._pb)

    @property
    def lost(self) -> int:
        return self._lost

    def close(self):
        if not self._closed and self._pb is not None:
            lib().perf_buffer__free(self._pb)
        self._closed = True
        self._pb = None
