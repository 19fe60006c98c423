"""16 clients x 200 creates of bound, plugged ports against a running `neutrino up`.

The record of how load-16x200-up.json was made (issue 18, item 1), with the benches'
lean client: python load_up.py URL STATE_DIR [CLIENTS EACH], against
NEUTRINO_QUOTA_PORT=-1 neutrino up --state-dir STATE_DIR --port PORT --auth none.
Also counts the status events per port and the answers ACTIVE with a reason.
"""
import asyncio, json, os, socket, sqlite3, sys, time
from collections import Counter
import httpx
from neutrino.bench.client import client_for, drive

url, state = sys.argv[1], sys.argv[2]
CLIENTS, EACH = (int(sys.argv[3]), int(sys.argv[4])) if len(sys.argv) > 4 else (16, 200)
host = socket.gethostname()
net = httpx.post(f"{url}/v2.0/networks", json={"network": {"name": "load16"}}, timeout=60).json()["network"]
httpx.post(f"{url}/v2.0/subnets", json={"subnet": {"network_id": net["id"], "cidr": "10.64.0.0/16",
           "ip_version": 4}}, timeout=60).raise_for_status()
floor = sqlite3.connect(f"{state}/neutrino.db").execute("select coalesce(max(id),0) from status_events").fetchone()[0]

async def create(client, i):
    return await client.post("/v2.0/ports", json={"port": {
        "network_id": net["id"], "name": f"load-{i}", "binding:host_id": host,
        "binding:profile": {"vif_plug_type": "dummy"}}})

async def main():
    async with client_for(url, CLIENTS) as client:
        return await drive(client, CLIENTS, range(CLIENTS * EACH), create)

load0 = os.getloadavg()
began = time.monotonic()
phase = asyncio.run(main())
took = time.monotonic() - began
ports = [r.json()["port"] for r in phase.responses]
answers = Counter((p["status"], p["binding:vif_type"]) for p in ports)
reasons = Counter(p.get("status_reason") for p in ports if p["status"] != "ACTIVE")
ids = {p["id"] for p in ports}
deadline = time.monotonic() + 600
while time.monotonic() < deadline:
    listed = httpx.get(f"{url}/v2.0/ports", params={"network_id": net["id"]}, timeout=60).json()["ports"]
    if sum(p["status"] == "ACTIVE" for p in listed) == len(ids):
        break
    time.sleep(2)
all_active = time.monotonic() - began
db = sqlite3.connect(f"{state}/neutrino.db")
events = db.execute("select status, status_reason from status_events where id > ? and resource='port'", (floor,)).fetchall()
ev = Counter(f"{s}: {r}" for s, r in events if s != "ACTIVE")
result = {"clients": CLIENTS, "creates": CLIENTS * EACH, "acknowledged": len(ports), "errors": phase.error_samples,
          "error_count": phase.stats.as_dict().get("errors"), "create_seconds": round(took, 1),
          "creates_per_second": round(len(ports) / took, 1), "create_latency": phase.stats.as_dict(),
          "answers": {f"{s}/{v}": n for (s, v), n in answers.items()},
          "answer_reasons": dict(reasons.most_common(10)),
          "binding_failed_answers": sum(n for (s, v), n in answers.items() if v == "binding_failed"),
          "chassis_down_answers": sum(n for r, n in reasons.items() if r and "is down" in r),
          "status_events_not_active": dict(ev.most_common(10)),
          "chassis_down_events": sum(n for k, n in ev.items() if "is down" in k),
          "status_events_per_port": round(len(events) / len(ids), 2),
          "active_answers_with_a_reason": sum(p["status"] == "ACTIVE" and bool(p.get("status_reason"))
                                              for p in ports),
          "all_active_after_s": round(all_active, 1),
          "active_at_end": sum(p["status"] == "ACTIVE" for p in listed),
          "loadavg_at_start": load0, "loadavg_at_end": os.getloadavg(), "cpus": os.cpu_count()}
print(json.dumps(result, indent=1))
