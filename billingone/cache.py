"""A Redis cache that is an optimisation, never a dependency.

Every call has short socket timeouts (settings), and when Redis cannot be reached the call answers
as a cache miss (``get`` → the default, ``set`` → nothing stored) and logs one warning, so a page
that would have read a cached figure computes it instead, and a writer that would have reset a
cached count carries on. After a failure the cache is not asked again for ``RETRY_AFTER`` seconds,
so an outage costs one timeout per process every few seconds, not one per call.
"""

import functools
import logging
import time

from django.core.cache.backends.redis import RedisCache

log = logging.getLogger(__name__)
RETRY_AFTER = 5.0  # seconds a process leaves the cache alone after a failure


def _forgiving(miss):
    """Decorate a cache method: when Redis cannot be reached, answer ``miss(*args, **kwargs)``."""

    def decorate(method):
        @functools.wraps(method)
        def wrapper(self, *args, **kwargs):
            if time.monotonic() < ForgivingRedisCache.down_until:
                return miss(*args, **kwargs)
            try:
                return method(self, *args, **kwargs)
            except Exception as exc:
                if not _is_connection_error(exc):
                    raise
                ForgivingRedisCache.down_until = time.monotonic() + RETRY_AFTER
                ForgivingRedisCache.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("cache unavailable, carrying on without it: %s", ForgivingRedisCache.last_error)
                return miss(*args, **kwargs)

        return wrapper

    return decorate


def _nothing(*args, **kwargs):
    return None


def _false(*args, **kwargs):
    return False


def _default(key, default=None, version=None):
    return default


class ForgivingRedisCache(RedisCache):
    """Django's Redis cache, answering a miss when Redis is down (see the module docstring)."""

    down_until = 0.0
    last_error: str | None = None

    get = _forgiving(_default)(RedisCache.get)
    get_many = _forgiving(lambda *a, **k: {})(RedisCache.get_many)
    has_key = _forgiving(_false)(RedisCache.has_key)
    add = _forgiving(_false)(RedisCache.add)
    touch = _forgiving(_false)(RedisCache.touch)
    delete = _forgiving(_false)(RedisCache.delete)
    incr = _forgiving(_nothing)(RedisCache.incr)
    set = _forgiving(_nothing)(RedisCache.set)
    set_many = _forgiving(lambda *a, **k: [])(RedisCache.set_many)
    delete_many = _forgiving(_nothing)(RedisCache.delete_many)
    clear = _forgiving(_false)(RedisCache.clear)

    @classmethod
    def problem(cls) -> str | None:
        """What is wrong with the cache, if it failed within the last few seconds."""
        return cls.last_error if time.monotonic() < cls.down_until else None


def _is_connection_error(exc: Exception) -> bool:
    import redis

    return isinstance(exc, (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError))
