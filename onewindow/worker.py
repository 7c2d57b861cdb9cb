"""Worker entry for `dramatiq onewindow.worker`: build the app so the broker and actors are bound.

A worker's Redis commands may take longer than a web process's (ONEWINDOW_WORKER_BROKER_TIMEOUT_MS):
nobody waits on them, and a consumer whose fetch times out restarts. The watchdog ends a process
whose Dramatiq threads died, so the supervisor restarts it (engine/watchdog.py).
"""

from engine import broker
from engine.watchdog import Watchdog
from onewindow.app import create_app, freeze_start_up_heap, mask_personal_data_in_logs
from onewindow.config import from_env

settings = from_env()
settings.broker_timeout_ms = settings.worker_broker_timeout_ms
app = create_app(settings)
broker.get_broker().add_middleware(Watchdog())
mask_personal_data_in_logs()  # dramatiq set up its handlers before importing this module
freeze_start_up_heap()
