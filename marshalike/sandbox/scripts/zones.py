"""The runner's second part: zoneinfo's cache of zones, held before the module under test
is imported, as writing a zone looks it up. It runs inside the sandbox after
`before_import.py`, in the same program, whose names it takes from `__main__`."""

import weakref

from __main__ import ZONE_INFO, watch, watch_class

# (WeakValueDictionary holds zoneinfo's cache of zones, which ZoneInfo(key) reads.)
watch_class(weakref.WeakValueDictionary, writing=True)


def zone_cache():
    """zoneinfo's cache of zones, the WeakValueDictionary `ZoneInfo(key)` reads, found
    through the weak reference it keeps to a zone; None where it is not found so."""
    try:
        zone = ZONE_INFO("UTC")
    except Exception:
        return None
    for ref in weakref.getweakrefs(zone):
        owner = (getattr(ref.__callback__, "__defaults__", None) or (None,))[0]
        cache = owner() if type(ref) is weakref.KeyedRef and type(owner) is weakref.ref else None
        if type(cache) is weakref.WeakValueDictionary:
            return cache
    return None


def plain_cache(cache):
    """Whether a lookup in the cache runs only the dict's code: its keys (and the keys it
    has yet to remove) plain `str`, its values plain weak references."""
    data, pending = CACHE_OWN(cache).get("data"), CACHE_OWN(cache).get("_pending_removals")
    return {
        "plain": type(data) is dict and type(pending) is list
        and all(type(k) is str for k in [*data, *pending])
        and all(type(r) is weakref.KeyedRef for r in list(data.values()))
    }  # fmt: skip


# A zone's lookup in the cache compares the key with the cache's keys, and calls what it
# finds: the cache and what it holds are watched too, and a call that changed them has
# its answer counted for nothing before any of its values is written.
watch_class(weakref.KeyedRef, writing=True)
ZONE_CACHE = zone_cache()
CACHE_OWN = weakref.WeakValueDictionary.__dict__["__dict__"].__get__
if ZONE_CACHE is not None:
    watch("zoneinfo's cache of zones", lambda: CACHE_OWN(ZONE_CACHE), writing=True)
    watch("the keys of zoneinfo's cache of zones", lambda: plain_cache(ZONE_CACHE), writing=True)
