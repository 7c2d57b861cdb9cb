"""SpiffWorkflow timers read the one clock.

Why: every deadline in onewindow (SLA clocks, `onewindow tick --now ISO`, tests frozen to the
minute) reads :func:`engine.clock.now`. SpiffWorkflow's timer event definitions
(``SpiffWorkflow.bpmn.specs.event_definitions.timer``) call ``datetime.now(timezone.utc)`` directly,
so without this module a boundary timer would fire by the wall clock while everything around it
runs on the frozen clock: two clocks, and a case that escalates in a test but never in a drill.

How: :func:`install_clock` swaps two globals of that one module and touches nothing else:

* ``datetime`` becomes :class:`ClockDatetime`, a ``datetime`` subclass whose ``now()`` asks
  ``engine.clock.now()``. Its constructors still return plain ``datetime`` objects and
  ``isinstance(x, ClockDatetime)`` accepts any ``datetime``, so Spiff's parsing, arithmetic,
  comparisons and serialized state are unchanged.
* ``LOCALTZ`` becomes UTC. Spiff reads a naive timer date ("2025-03-01T09:00") in the server's
  local zone, so the same BPMN would fire at different instants on a laptop and in production.
  We read naive timer dates as UTC, matching ``engine.clock.parse_instant``; designers who mean
  office time write the offset ("2025-03-01T09:00+08:00").

The same two classes are what scripts see as ``datetime`` and ``date`` (see ``script_engine``), so
``datetime.now()`` in a script task is the frozen clock too (naive, in UTC, like the timer dates).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, tzinfo

from engine import clock


class _AcceptsPlain(type):
    """Metaclass: ``isinstance(x, ClockDatetime)`` holds for every plain ``datetime`` (or ``date``)."""

    def __instancecheck__(cls, obj: object) -> bool:
        return isinstance(obj, cls.__mro__[1])

    def __subclasscheck__(cls, sub: type) -> bool:
        return issubclass(sub, cls.__mro__[1])


class ClockDatetime(datetime, metaclass=_AcceptsPlain):
    """``datetime`` whose ``now()`` / ``today()`` read ``engine.clock.now()``.

    ``now()`` without a zone is naive UTC (not the machine's zone); ``now(tz)`` is aware in ``tz``.
    Every constructor returns a plain ``datetime`` so nothing of this class leaks into stored state.
    """

    def __new__(cls, *args, **kwargs):
        return datetime.__new__(datetime, *args, **kwargs)

    @classmethod
    def now(cls, tz: tzinfo | None = None) -> datetime:
        instant = clock.now()
        return instant.astimezone(UTC).replace(tzinfo=None) if tz is None else instant.astimezone(tz)

    @classmethod
    def today(cls) -> datetime:
        return cls.now()

    @classmethod
    def utcnow(cls) -> datetime:
        return cls.now()


class ClockDate(date, metaclass=_AcceptsPlain):
    """``date`` whose ``today()`` is the UTC date of ``engine.clock.now()``."""

    def __new__(cls, *args, **kwargs):
        return date.__new__(date, *args, **kwargs)

    @classmethod
    def today(cls) -> date:
        return clock.now().astimezone(UTC).date()


def install_clock() -> None:
    """Make every SpiffWorkflow timer read ``engine.clock.now()`` and read naive dates as UTC.

    Idempotent; call it once at start-up (the script engine factory does).
    """
    from SpiffWorkflow.bpmn.serializer.migration import version_1_2
    from SpiffWorkflow.bpmn.specs.event_definitions import timer

    timer.datetime = ClockDatetime
    timer.LOCALTZ = UTC
    # The 1.2 state migration converts naive cycle times with its own copy of LOCALTZ.
    version_1_2.LOCALTZ = UTC


def clock_installed() -> bool:
    """True when Spiff's timers read the one clock."""
    from SpiffWorkflow.bpmn.specs.event_definitions import timer

    return timer.datetime is ClockDatetime and timer.LOCALTZ is UTC
