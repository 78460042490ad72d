"""The ingest worker: MQTT in, PostGIS out, acknowledging each message only after it is committed.

- Fixed client id (the broker forces it to the username) with a durable session and QoS 1, so
  messages that arrive while the worker is down wait in the broker. MQTT 5: a session that never
  expires (what MQTT 3.1.1's clean_session=false was), and a subscription to device topics that never
  sends retained messages, so a restart does not replay each device's last retained message.
- A device message delivered with the retain flag (only possible if the subscription were made
  otherwise) is a dead letter (``retained``), never stored: its live delivery already was.
- ``on_message`` only queues. The worker thread validates and writes in batches; after COMMIT it
  sends the PUBACKs. A crash before COMMIT means no PUBACK, so the broker delivers again; the
  writes are idempotent (device + device timestamp), so redelivery never duplicates.
- Invalid payloads become dead letters (they are stored, then acknowledged) and never stop the worker.
- PUBACKs are only sent on the connection that received the message: after a reconnect the
  broker redelivers, and a packet id from an old connection may belong to another message now.
- Several workers (``shared``) split the stream through an MQTT 5 shared subscription,
  ``$share/gisapp-ingest/gisapp/v1/#``: the broker hands each message to one of them. Each has its own
  account, so its own client id and durable session; a message unacknowledged by a worker that died
  is redelivered to that worker's session when it comes back, and the unique keys above make a store
  happen once whichever worker writes it. A single worker keeps the plain subscription: Mosquitto 2.0
  does not persist shared subscriptions, so after a broker restart a shared group receives nothing
  until its workers have subscribed again, while a plain subscription is restored with the session.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, OperationalError

from ingest.device_alerts import DeviceAlert, record_device_alerts, topic_device
from ingest.gauges import device_kinds, record_observations
from ingest.geofence import insert_transitions, track_zones
from ingest.owntracks import Card, DeviceInfo, Ignored, Transition
from ingest.payloads import (
    GaugeObservation,
    LastWill,
    Message,
    PayloadError,
    RadioIncident,
    RadioPosition,
    is_owntracks,
    parse_gauge,
    parse_radio_incident,
    parse_radio_position,
    parse_status,
)
from ingest.store import (
    DeadLetter,
    count_ignored,
    insert_dead_letters,
    insert_positions,
    mark_silent,
    record_broker_stats,
    record_device_facts,
    touch_devices,
)
from sensors.registry import enabled_ids
from sensors.topics import GAUGE_LEAF_KIND, OWNTRACKS_SUBTOPICS, TOPIC_ROOT, parse

log = logging.getLogger("gisapp.ingest")
BROKER_STATS = ("$SYS/broker/publish/messages/dropped",)
# MQTT 5 session expiry "never" (as MQTT 3.1.1's clean_session=false): messages wait while we are down.
SESSION_NEVER_EXPIRES = 0xFFFFFFFF
# Device topics: never the retained messages (a replay of old positions and statuses at every
# (re)subscribe; MQTT 3.1.1 always sends them, even to an existing subscription). The broker's $SYS
# counters: always them, at every connection, since they are published only every sys_interval.
DEVICE_SUBSCRIPTION = SubscribeOptions(qos=1, retainHandling=SubscribeOptions.RETAIN_DO_NOT_SEND)
STATS_SUBSCRIPTION = SubscribeOptions(qos=0, retainHandling=SubscribeOptions.RETAIN_SEND_ON_SUBSCRIBE)
DEVICE_TOPICS = f"{TOPIC_ROOT}/#"
SHARE_GROUP = "gisapp-ingest"
SHARED_DEVICE_TOPICS = f"$share/{SHARE_GROUP}/{DEVICE_TOPICS}"
# A stored position this far behind the server's clock: the device's clock is wrong (a reset to 1970),
# not a buffered fix. Stored all the same (it may be right), and the HQ is told.
CLOCK_FAR_BEHIND = timedelta(days=30)


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    mid: int
    qos: int
    generation: int  # which connection delivered it
    retain: bool = False  # delivered as a retained message (an old one), not live


@dataclass
class Batch:
    items: list[Received]
    positions: list[RadioPosition] = field(default_factory=list)
    observations: list[GaugeObservation] = field(default_factory=list)
    incidents: list[RadioIncident] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)
    broker_stats: dict[str, int] = field(default_factory=dict)  # $SYS/broker/… -> value
    heard: set[str] = field(default_factory=set)  # devices with an accepted message in this batch
    gone: set[str] = field(default_factory=set)  # devices whose last will arrived
    transitions: list[Transition] = field(default_factory=list)  # OwnTracks regions entered / left
    cards: dict[str, str] = field(default_factory=dict)  # device -> the name its card gives
    infos: dict[str, dict] = field(default_factory=dict)  # device -> its OwnTracks status
    ignored: Counter[tuple[str, str]] = field(default_factory=Counter)  # (device, _type) -> valid, not kept
    alerts: list[DeviceAlert] = field(default_factory=list)  # besides the dead letters

    def all_alerts(self) -> list[DeviceAlert]:
        """Every dead letter naming a device is an alert for it, with the other alerts."""
        dead = [
            DeviceAlert(device, d.reason_code, d.reason)
            for d in self.dead
            if (device := topic_device(d.topic)) is not None
        ]
        return dead + self.alerts


def mqtt_params(url: str) -> tuple[str, int, str | None, str | None]:
    u = urlsplit(url)
    if u.scheme not in ("mqtt", "tcp"):
        raise ValueError(f"MQTT_URL must start with mqtt:// (got {u.scheme!r})")
    return (
        u.hostname or "127.0.0.1",
        u.port or 1883,
        unquote(u.username) if u.username else None,
        unquote(u.password) if u.password else None,
    )


class RadioReports(Protocol):
    """Where radio-reported incidents go (gisapp.ops.radio_reports): the HQ domain, handed in by the
    caller so that ingest does not depend on it."""

    def record_radio_incidents(self, conn: Connection, reports: Sequence[RadioIncident]) -> list[int]: ...


class IngestWorker:
    def __init__(
        self,
        engine: Engine,
        mqtt_url: str,
        *,
        radio_reports: RadioReports,
        batch_size: int = 500,
        batch_wait: float = 0.05,
        silence_check: float = 15.0,
        shared: bool = False,
    ):
        self.engine = engine
        self.radio_reports = radio_reports
        self.host, self.port, user, password = mqtt_params(mqtt_url)
        self.batch_size = batch_size
        self.batch_wait = batch_wait
        self.silence_check = silence_check  # seconds between sweeps for devices gone silent
        self.shared = shared  # one of several workers on the shared subscription
        self._next_sweep = 0.0
        self.inbox: queue.Queue[Received] = queue.Queue()
        self.generation = 0
        self.connected = threading.Event()
        self.stopping = threading.Event()
        self.stats = {"stored": 0, "dead_letters": 0, "acked": 0, "db_retries": 0}
        # Mosquitto forces the client id to the username (use_username_as_clientid).
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=user or "gisapp-ingest",
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        if user:
            self.client.username_pw_set(user, password)
        self.client.reconnect_delay_set(min_delay=1, max_delay=30)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message

    # ------------------------------------------------------------ MQTT thread
    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.error("mqtt connect refused", extra={"reason": str(reason_code)})
            return
        self.generation += 1
        wanted, former = (
            (SHARED_DEVICE_TOPICS, DEVICE_TOPICS) if self.shared else (DEVICE_TOPICS, SHARED_DEVICE_TOPICS)
        )
        client.subscribe(wanted, options=DEVICE_SUBSCRIPTION)
        # A session that ran in the other mode still holds the other filter: this worker would get each
        # message twice, or keep being handed a share of a group it left. New first, then old: no gap.
        client.unsubscribe(former)
        # What the broker itself lost (queues full, …): /healthz turns degraded when it is not zero.
        client.subscribe([(topic, STATS_SUBSCRIPTION) for topic in BROKER_STATS])
        self.connected.set()
        log.info("mqtt connected", extra={"session_present": flags.session_present})

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connected.clear()
        self.generation += 1
        if not self.stopping.is_set():
            log.warning("mqtt disconnected; reconnecting", extra={"reason": str(reason_code)})

    def _on_message(self, client, userdata, msg: mqtt.MQTTMessage) -> None:
        self.inbox.put(Received(msg.topic, msg.payload, msg.mid, msg.qos, self.generation, bool(msg.retain)))

    # ---------------------------------------------------------- worker thread
    def run(self) -> None:
        """Run until stop() is called; then drain what is queued and disconnect."""
        session = Properties(PacketTypes.CONNECT)
        session.SessionExpiryInterval = SESSION_NEVER_EXPIRES
        self.client.connect_async(self.host, self.port, keepalive=30, clean_start=False, properties=session)
        self.client.loop_start()
        try:
            while not self.stopping.is_set():
                self._step(timeout=0.5)
            while not self.inbox.empty():  # drain
                self._step(timeout=0)
        finally:
            self.client.disconnect()
            self.client.loop_stop()
            log.info("ingest stopped", extra=self.stats)

    def stop(self) -> None:
        self.stopping.set()

    def _step(self, timeout: float) -> None:
        items = self._take(timeout)
        if items:
            self._process(items)
        if time.monotonic() >= self._next_sweep:
            self._sweep_silence()

    def _sweep_silence(self) -> None:
        """Devices quiet past their kind's limit become silent (the HQ map gets ``device_silent``)."""
        self._next_sweep = time.monotonic() + self.silence_check
        try:
            with self.engine.begin() as conn:
                marked = mark_silent(conn)
        except OperationalError as e:
            log.warning("silence check skipped: database unavailable", extra={"error": str(e.orig)[:200]})
            return
        if marked:
            log.info("devices gone silent", extra={"count": marked})

    def _take(self, timeout: float) -> list[Received]:
        """Up to batch_size messages: the first waits up to `timeout`, the rest at most batch_wait."""
        try:
            first = self.inbox.get(timeout=timeout) if timeout else self.inbox.get_nowait()
        except queue.Empty:
            return []
        items = [first]
        deadline = time.monotonic() + self.batch_wait
        while len(items) < self.batch_size:
            try:
                items.append(self.inbox.get_nowait())  # no timed wait per message: that costs a lock dance
            except queue.Empty:
                if time.monotonic() >= deadline:
                    break
                time.sleep(0.002)
        return items

    def _process(self, items: list[Received]) -> None:
        delay = 1.0
        one_by_one = False
        while True:
            try:
                if one_by_one:
                    self._write_one_by_one(items)
                else:
                    with self.engine.begin() as conn:  # one connection and transaction per batch
                        batch = self._validate(conn, items)
                        self._write(conn, batch)
                    self._count(batch)
                break
            except OperationalError as e:
                # Database unreachable: keep the batch, do not ack, try again.
                self.stats["db_retries"] += 1
                log.warning("database unavailable; retrying", extra={"error": str(e.orig)[:200], "in": delay})
                if self.stopping.wait(delay):
                    return  # unacked: the broker redelivers after restart
                delay = min(delay * 2, 30)
            except DBAPIError:
                if one_by_one:
                    raise
                # One bad row must not block the rest: write message by message.
                log.exception("batch rejected; writing one by one")
                one_by_one = True
        self._ack(items)

    def _validate(self, conn: Connection, items: list[Received]) -> Batch:
        batch = Batch(items)
        parsed: list[tuple[Received, str, bool]] = []  # (message, device, our own form allowed)
        gauge: list[tuple[Received, str, str]] = []
        statuses: list[tuple[Received, str]] = []
        reports: list[tuple[Received, str]] = []
        for item in items:
            if item.topic in BROKER_STATS:
                try:
                    batch.broker_stats[item.topic.removeprefix("$SYS/broker/")] = int(item.payload)
                except ValueError:
                    pass  # the broker's own counters; nothing a device sent
                continue
            if item.retain:
                batch.dead.append(
                    DeadLetter(
                        item.topic, item.payload, "retained", "a retained (old) message, not a live one"
                    )
                )
                continue
            route = parse(item.topic)
            if (
                route is not None
                and route[0] == "radio"
                and (
                    route[2] == "position" or (route[2] in OWNTRACKS_SUBTOPICS and is_owntracks(item.payload))
                )
            ):
                parsed.append((item, route[1], route[2] == "position"))
                continue
            if route is not None and route[2] == "status":
                statuses.append((item, route[1]))
                continue
            if route is not None and route[0] == "gauge" and route[2] in GAUGE_LEAF_KIND:
                gauge.append((item, route[1], route[2]))
                continue
            if route is not None and route[0] == "radio" and route[2] == "incident":
                reports.append((item, route[1]))
                continue
            if route is not None and route[0] == "radio" and route[2] in OWNTRACKS_SUBTOPICS:
                parsed.append((item, route[1], False))  # not JSON with a _type: its reason says why
                continue
            batch.dead.append(DeadLetter(item.topic, item.payload, "unknown_topic", "no handler"))
        known = self._known_devices(conn, {d for _, d, *_ in [*parsed, *statuses, *reports]})
        for item, device_id, own_form in parsed:
            if device_id not in known:
                batch.dead.append(
                    DeadLetter(item.topic, item.payload, "unknown_device", f"{device_id} not registered")
                )
                continue
            for result in parse_radio_position(device_id, item.payload, own_form=own_form):
                self._file(batch, item, device_id, result)
        for item, device_id in statuses:
            status = parse_status(device_id, item.payload) if device_id in known else None
            if device_id not in known:
                batch.dead.append(
                    DeadLetter(item.topic, item.payload, "unknown_device", f"{device_id} not registered")
                )
            elif isinstance(status, PayloadError):
                batch.dead.append(DeadLetter(item.topic, item.payload, status.code, status.reason))
            elif isinstance(status, LastWill):
                batch.gone.add(device_id)
            else:
                batch.heard.add(device_id)
        if gauge:
            self._validate_gauges(conn, batch, gauge)
        if reports:
            self._validate_reports(batch, reports, known)
        return batch

    @staticmethod
    def _file(batch: Batch, item: Received, device_id: str, result: Message) -> None:
        """One parsed radio message into the batch: stored, counted, or a dead letter."""
        if isinstance(result, PayloadError):
            batch.dead.append(DeadLetter(item.topic, item.payload, result.code, result.reason))
            return
        if isinstance(result, LastWill):
            batch.gone.add(device_id)
            return
        batch.heard.add(device_id)
        if isinstance(result, RadioPosition):
            batch.positions.append(result)
            if result.device_ts < datetime.now(UTC) - CLOCK_FAR_BEHIND:
                batch.alerts.append(
                    DeviceAlert(device_id, "clock_far_off", f"position timed {result.device_ts.isoformat()}")
                )
        elif isinstance(result, Transition):
            batch.transitions.append(result)
        elif isinstance(result, Card):
            batch.cards[device_id] = result.name
        elif isinstance(result, DeviceInfo):
            batch.infos[device_id] = result.info
        elif isinstance(result, Ignored):
            batch.ignored[(device_id, result.msg_type)] += 1
            if result.msg_type == "encrypted":  # we hold no key: this unit's positions are lost to us
                batch.alerts.append(DeviceAlert(device_id, "encrypted", "OwnTracks payload encryption is on"))

    @staticmethod
    def _validate_reports(batch: Batch, reports: list[tuple[Received, str]], known: set[str]) -> None:
        for item, device_id in reports:
            if device_id not in known:
                batch.dead.append(
                    DeadLetter(item.topic, item.payload, "unknown_device", f"{device_id} not registered")
                )
                continue
            result = parse_radio_incident(device_id, item.payload)
            if isinstance(result, PayloadError):
                batch.dead.append(DeadLetter(item.topic, item.payload, result.code, result.reason))
            else:
                # An unknown category is filed as その他 by the HQ domain (radio_reports): a field report
                # is never dead-lettered for it.
                batch.incidents.append(result)
                batch.heard.add(device_id)

    def _validate_gauges(
        self, conn: Connection, batch: Batch, gauge: list[tuple[Received, str, str]]
    ) -> None:
        kinds = device_kinds(conn, {device for _, device, _ in gauge})
        for item, device_id, leaf in gauge:
            kind = kinds.get(device_id)
            if kind is None:
                batch.dead.append(
                    DeadLetter(item.topic, item.payload, "unknown_device", f"{device_id} not registered")
                )
            elif kind != GAUGE_LEAF_KIND[leaf]:
                batch.dead.append(
                    DeadLetter(
                        item.topic,
                        item.payload,
                        "wrong_kind",
                        f"{device_id} is a {kind}, not a {GAUGE_LEAF_KIND[leaf]}",
                    )
                )
            else:
                for result in parse_gauge(device_id, leaf, item.payload):
                    if isinstance(result, PayloadError):
                        batch.dead.append(DeadLetter(item.topic, item.payload, result.code, result.reason))
                    else:
                        batch.observations.append(result)
                        batch.heard.add(device_id)

    @staticmethod
    def _known_devices(conn: Connection, ids: set[str]) -> set[str]:
        return enabled_ids(conn, sorted(ids)) if ids else set()

    def _write(self, conn: Connection, batch: Batch) -> None:
        insert_positions(conn, batch.positions)
        record_observations(conn, batch.observations)
        insert_dead_letters(conn, batch.dead)
        touch_devices(conn, batch.heard, batch.gone)
        record_device_facts(conn, batch.cards, batch.infos)
        count_ignored(conn, batch.ignored)
        insert_transitions(conn, batch.transitions)
        track_zones(conn, batch.positions)  # after touch_devices: it marks their status rows
        record_broker_stats(conn, batch.broker_stats)
        record_device_alerts(conn, batch.all_alerts())
        # Last: it appends to the audit chain, which serialises.
        self.radio_reports.record_radio_incidents(conn, batch.incidents)

    def _count(self, batch: Batch) -> None:
        """After COMMIT: the figures and the dead-letter log lines."""
        self.stats["stored"] += len(batch.positions) + len(batch.observations) + len(batch.incidents)
        self.stats["dead_letters"] += len(batch.dead)
        if batch.dead:
            for d in batch.dead:
                log.warning(
                    "dead letter", extra={"topic": d.topic, "code": d.reason_code, "reason": d.reason}
                )

    def _write_one_by_one(self, items: list[Received]) -> None:
        for item in items:
            try:
                with self.engine.begin() as conn:
                    single = self._validate(conn, [item])
                    self._write(conn, single)
            except OperationalError:
                raise  # the database went away: the caller keeps the batch and retries
            except DBAPIError as e:
                reason = str(e.orig)[:500] if e.orig else str(e)[:500]
                single = Batch([item], dead=[DeadLetter(item.topic, item.payload, "db_rejected", reason)])
                with self.engine.begin() as conn:
                    self._write(conn, single)
            self._count(single)

    def _ack(self, items: list[Received]) -> None:
        current = self.generation
        for item in items:
            if item.qos > 0 and item.generation == current:
                self.client.ack(item.mid, item.qos)
                self.stats["acked"] += 1
