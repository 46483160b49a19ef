"""The runner's second part, more of what it holds before the module under test is
imported: zoneinfo's cache of zones, as writing a zone looks it up; the standard streams
and the import system's finders, which pytest's capture and the test file's imports use
around every test. It runs inside the sandbox after `before_import.py`, in the same
program, whose names it takes from `__main__`."""

import sys
import weakref

from __main__ import SYS, ZONE_INFO, Print, watch, watch_class

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

STREAMS = {name: SYS.get(name) for name in ("stdin", "stdout", "stderr")}


def streams():
    """The standard streams as they are: closed, detached or re-encoded (`reconfigure`),
    each pytest's capture of a later test reads (a stream replaced: `process_state`)."""
    found = {}
    for name, stream in STREAMS.items():
        try:
            found[name] = Print((stream.closed, stream.encoding, stream.errors))
        except Exception:
            found[name] = "unreadable"
    return found


watch("the standard streams", streams)
# The finders of the import system's paths as they are (a new path's is added as it is used).
FINDERS = sys.path_importer_cache
watch("the import system's finders", lambda keys=list(FINDERS): {k: FINDERS.get(k) for k in keys})
