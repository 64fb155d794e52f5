"""The fictional workers the tests act as."""

from engine.actors import Actor

REFERRER = Actor.of("riley.referrer", "referrer")
MANAGER = Actor.of("morgan.manager", "fgc_manager")
OTHER_MANAGER = Actor.of("mel.manager", "fgc_manager")
COORDINATOR = Actor.of("casey.coordinator", "coordinator")
OWNER = Actor.of("pat.owner", "process_owner")
