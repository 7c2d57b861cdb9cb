"""Run in a separate OS process: complete one task through the HTTP API of a fresh app.

argv: database_url task_id username password barrier_file [crash]
With "crash" the process kills itself (os._exit) after the state is computed and flushed, just
before COMMIT: what a power cut or OOM kill at the worst moment does.
"""

import json
import os
import sys
import time

from sqlalchemy import event
from sqlalchemy.orm import Session

url, task_id, username, password, barrier = sys.argv[1:6]
crash = len(sys.argv) > 6 and sys.argv[6] == "crash"

from onewindow.app import create_app  # noqa: E402

app = create_app(database_url=url, secret_key="x", instance_dir=os.environ.get("TMPDIR", "/tmp"))
client = app.test_client()
token = client.post("/api/auth/token", json={"username": username, "password": password}).get_json()["token"]

if crash:
    @event.listens_for(Session, "before_commit")
    def _die(session):
        os._exit(137)  # the state is computed and flushed; COMMIT never happens

# Wait for the sibling so both requests really overlap.
deadline = time.time() + 20
open(f"{barrier}.{os.getpid()}", "w").close()
while len([f for f in os.listdir(os.path.dirname(barrier)) if f.startswith(os.path.basename(barrier) + ".")]) < 2:
    if time.time() > deadline or crash:
        break
    time.sleep(0.005)

r = client.post(f"/api/tasks/{task_id}/complete", json={"data": {"decision": "accept"}},
                headers={"Authorization": f"Bearer {token}"})
print(json.dumps({"status": r.status_code, "body": r.get_json()}))
