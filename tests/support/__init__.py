"""Test support: code the tests and benchmarks share and the wheel never ships.

* :mod:`tests.support.cluster`: a local Redis Cluster started from ``redis-server`` (and
  ``free_port``, ``delete_prefix``).
* :mod:`tests.support.roundtrips`: :class:`RoundTripCounter`, counting the round trips a block
  of code makes to Redis.

The benchmarks import it too (they run from a checkout, where the project's root is on the path).
"""
