"""Fleet push: put a CA file on units in the field over their RPC links, verified, and
record each unit in a campaign ledger.

- :mod:`.rpc` frames and the channel protocol; :mod:`.files` the unit-files adapter
  (get, put, rename, info) the campaign is written against;
- transports: :mod:`.mdash` (REST API), :mod:`.mqtt` (Mongoose OS RPC over MQTT),
  :mod:`.http` (Mongoose OS RPC over HTTP and WebSocket on a LAN);
- :mod:`.campaign` the per-unit procedure and the watch loop (its writes and reboots in
  :mod:`.campaign_write`); :mod:`.ledger` SQLite.

Importing this package imports no network library: paho-mqtt and websockets load when
a transport that needs them is opened.
"""

from __future__ import annotations

__all__: list[str] = []
