"""The bridge's flasher: sends a signed image to the device over its link and installs it (docs/ota.md, "The
bridge"; the messages and the device's answers: docs/protocol.md 2.2, 2.3 and 3.6).

    outcome = flash_release(link, image_bytes)   # the bridge service (issue 11) and `heartbeat flash`

In this order, each step on the running `DeviceLink` (which reconnects by itself):

1. **Pre-checks on the host, before a byte is sent** (one-line FlashError each): the image parses as ours
   (heartbeat_core.mcuboot_image: truncated, not MCUboot, bad header or TLVs), fits a slot, is for the device's
   target (when it is known: HELLO does not name it, the caller passes it), and its security counter is not below
   the one in the device's BOOT_REPORT. A device that sends no BOOT_REPORT after its HELLO has no update support.
2. **Drain**: every BEAT and ALERT the device holds is in the queue and acknowledged (GET_STATUS; the link's
   held_through and its HOST_ACK reach STATUS last_seq). Done again right before UPDATE_INSTALL, since the device's
   reset loses its retransmit ring.
3. **Transfer**: UPDATE_BEGIN (a resume when the device holds part of this image), then UPDATE_CHUNKs of
   CHUNK_MAX bytes from the device's `next_offset`, `window` in a row; UPDATE_END (the device checks hash and
   signature). A request without an answer is repeated (a lost frame); OUT_OF_ORDER and INCOMPLETE send again from
   the answer's `next_offset`; after a disconnect the flasher begins again and resumes from the device's
   `next_offset`. A refusal (state REFUSED, or a BEGIN refused) ends the transfer with UPDATE_ABORT and the
   device's result code by name; BUSY waits for the running image to confirm itself, FLASH begins once more.
4. **Install**: UPDATE_INSTALL; the device answers INSTALLING and resets. The flasher waits for the HELLO of a new
   boot and its BOOT_REPORT: INSTALLED with this image's version (confirmed, or on trial until the report that says
   confirmed), REFUSED by the bootloader, or REVERTED, each with its reason.

The outcome is a FlashOutcome: `installed` (and `confirmed`), `refused` (the device or the bootloader would not take
it; nothing changed), `reverted` (it ran and undid itself), or `aborted` (the transfer could not complete: no answer,
the device gone). FlashError is raised only for the host's own pre-checks and an unusable link, before anything
reaches the device.
"""
from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field

from edge_bridge import wire
from edge_bridge.link import DeviceLink, LinkDown
from heartbeat_core.errors import HeartbeatError
from heartbeat_core.mcuboot_image import (
    SLOT_SIZE,
    ImageError,
    McubootImage,
    check_security_counter,
    check_target,
    parse_image,
)

log = logging.getLogger("edge_bridge.flasher")

RESULTS = ("installed", "refused", "reverted", "aborted")
# results a host may retry (docs/protocol.md 3.6: of the moment, not of the image)
_MOMENTARY = {wire.UpdateResult.BUSY, wire.UpdateResult.FLASH}


class FlashError(HeartbeatError):
    """The flasher refused before anything was sent (the image, or the device's facts): one line naming why."""


@dataclass(frozen=True)
class FlashTiming:
    """How long the flasher waits; the defaults suit a board at 115200 baud and QEMU."""

    answer_s: float = 2.0  # for the UPDATE_STATE of a request before repeating it
    verify_s: float = 30.0  # for UPDATE_END's answer (a hash and a P-256 verification on the device)
    ready_s: float = 60.0  # for the link's handshake after a (re)connection
    report_s: float = 5.0  # for the BOOT_REPORT after a HELLO
    drain_s: float = 60.0  # for the queue to hold and acknowledge what the device holds
    status_s: float = 10.0  # for one STATUS (it queues behind any SAMPLES in flight) before asking again
    boot_s: float = 120.0  # after INSTALL: for the new boot's HELLO and BOOT_REPORT
    confirm_s: float = 60.0  # for an image on trial to confirm itself
    busy_s: float = 120.0  # BUSY: for the running image to confirm itself before beginning again
    retries: int = 20  # unanswered repetitions of one request (or window) in a row before giving up
    reconnects: int = 20  # disconnects survived during one flash


@dataclass
class FlashOutcome:
    """What became of one flash: `result` one of RESULTS; `reason` the device's code by name (or the host's);
    `detail` one line for a human."""

    result: str
    reason: str
    detail: str
    image_version: str
    security_counter: int
    image_sha256: str
    confirmed: bool = False
    hello: wire.Hello | None = None  # the device's HELLO after the install (or the last one seen)
    boot_report: wire.BootReport | None = None
    stats: dict[str, int] = field(default_factory=dict)  # chunks, bytes, repeats, resumes, out_of_order, reconnects

    @property
    def ok(self) -> bool:
        return self.result == "installed" and self.confirmed

    def one_line(self) -> str:
        return f"{self.result}: {self.detail}"


class _Stop(Exception):
    """Ends the flash with an outcome (a refusal, a timeout, a lost device)."""

    def __init__(self, result: str, reason: str, detail: str, abort: bool = True):
        super().__init__(detail)
        self.result, self.reason, self.detail, self.abort = result, reason, detail, abort


class _Reconnect(Exception):
    """The link went down during a step: wait for it and begin again (resume)."""


def check_image(data: bytes) -> McubootImage:
    """The host's check of an image's own structure and size (no device needed): FlashError naming what is wrong."""
    if len(data) > SLOT_SIZE:
        raise FlashError(f"image refused: {len(data)} bytes do not fit a {SLOT_SIZE}-byte slot")
    try:
        return parse_image(data)
    except ImageError as exc:
        raise FlashError(f"image refused: {exc.one_line()}") from None


def result_name(code: int) -> str:
    try:
        return wire.UpdateResult(code).name
    except ValueError:
        return f"0x{code:02x}"


def version_text(major: int, minor: int, revision: int, build: int) -> str:
    return f"{major}.{minor}.{revision}+{build}"


class Flasher:
    """One image to one device over `link` (started; it may still be connecting). `target`: the device's target
    name when the caller knows it (HELLO does not carry it); None leaves that check to the device."""

    def __init__(self, link: DeviceLink, image_bytes: bytes, *, target: str | None = None, window: int = 4,
                 timing: FlashTiming | None = None):
        if not 1 <= window <= 64:
            raise ValueError(f"window must be 1..64 chunks, got {window}")
        self.link = link
        self.data = bytes(image_bytes)
        self.target = target
        self.window = window
        self.t = timing or FlashTiming()
        self.image: McubootImage | None = None
        self.stats = {"chunks": 0, "bytes": 0, "repeats": 0, "resumes": 0, "out_of_order": 0, "reconnects": 0,
                      "busy_waits": 0}
        self._flash_retried = False
        self._boot: int | None = None

    # -- the host's checks ------------------------------------------------------------------------------------
    def check_image(self) -> McubootImage:
        """The image's own structure (no device needed): FlashError naming what is wrong."""
        self.image = check_image(self.data)
        return self.image

    def check_device(self, image: McubootImage, report: wire.BootReport) -> None:
        """The image against the device's facts: FlashError naming the mismatch."""
        try:
            if self.target is not None:
                check_target(image, self.target)
            check_security_counter(image, report.security_counter)
        except ImageError as exc:
            raise FlashError(f"image refused: {exc.one_line()}") from None

    # -- the whole flash --------------------------------------------------------------------------------------
    def run(self) -> FlashOutcome:
        image = self.check_image()
        hello, report = self._device_facts()
        self.check_device(image, report)
        self._boot = hello.boot_id
        try:
            self._drain()  # first: what the device holds is in the queue before anything else happens
            self._transfer_until_verified()
            self._drain()  # again: what came during the transfer (the reset loses the device's ring)
            return self._install()
        except _Stop as stop:
            if stop.abort:
                self._abort()
            return self._outcome(stop.result, stop.reason, stop.detail)

    def _device_facts(self) -> tuple[wire.Hello, wire.BootReport]:
        try:
            self.link.wait_ready(self.t.ready_s)
        except TimeoutError as exc:
            raise FlashError(f"no device: {exc}") from None
        got = self.link.wait_boot_report(self.t.report_s)
        if got is None:  # it may have come before the link knew the boot: ask again
            before = self.link.hello_count
            try:
                self.link.send(wire.HelloRequest())
            except LinkDown as exc:
                raise FlashError(f"no device: {exc}") from None
            got = self.link.wait_boot_report(self.t.report_s, after_hello=before)
        if got is None:
            hello = self.link.hello
            raise FlashError(f"the device {hello.device_id if hello else '?'} sent no BOOT_REPORT after its HELLO: "
                             "its firmware has no update support (flash it with `pio run -t upload`)")
        return got

    # -- steps -----------------------------------------------------------------------------------------------
    def _transfer_until_verified(self) -> None:
        reconnects = 0
        while True:
            try:
                offset: int | None = self._begin()
                while offset is not None:
                    offset = self._end(self._send_chunks(offset))
                return
            except _Reconnect:
                reconnects += 1
                self.stats["reconnects"] += 1
                if reconnects > self.t.reconnects:
                    raise _Stop("aborted", "LINK", f"the link to {self.link.url} went down {reconnects} times "
                                "during the transfer", abort=False) from None
                self._wait_ready()

    def _wait_ready(self) -> None:
        try:
            hello, _ = self.link.wait_ready(self.t.ready_s)
        except TimeoutError as exc:
            raise _Stop("aborted", "NO_DEVICE", f"the device did not come back: {exc}", abort=False) from None
        if self._boot is not None and hello.boot_id != self._boot:
            self._boot = hello.boot_id  # it restarted: what it held of the image is gone unless it proves it
            log.warning("device restarted during the transfer (boot %d); beginning again", hello.boot_id)

    def _ask(self, msg: wire.Message, timeout_s: float | None = None) -> wire.UpdateState:
        """One request until it is answered (repeated when not); _Reconnect when the link drops."""
        for attempt in range(self.t.retries + 1):
            if attempt:
                self.stats["repeats"] += 1
            try:
                ans = self.link.request(msg, self.t.answer_s if timeout_s is None else timeout_s)
            except LinkDown:
                raise _Reconnect() from None
            if isinstance(ans, wire.Error):
                if ans.code == wire.ErrorCode.UNKNOWN_TYPE:
                    raise _Stop("refused", "UNKNOWN_TYPE", "the device's firmware does not take updates "
                                f"(ERROR UNKNOWN_TYPE: {ans.text})", abort=False)
                raise _Stop("aborted", f"ERROR_0x{ans.code:04x}", f"the device answered {type(msg).__name__} with "
                            f"ERROR 0x{ans.code:04x}: {ans.text}")
            if ans is not None:
                return ans
        raise _Stop("aborted", "NO_ANSWER", f"no answer to {type(msg).__name__} after {self.t.retries + 1} tries "
                    f"({self.link.counters.last_error or 'no link error seen'})")

    def _refusal(self, st: wire.UpdateState, during: str) -> _Stop:
        name = result_name(st.result)
        return _Stop("refused", name, f"the device refused the image at {during}: {name} "
                     f"({_RESULT_TEXT.get(st.result, 'see docs/protocol.md 2.3')})")

    def _begin(self) -> int:
        assert self.image is not None
        h = self.image.header
        begin = wire.UpdateBegin(len(self.data), hashlib.sha256(self.data).digest(), *h.version,
                                 self.image.security_counter)
        busy_since: float | None = None
        while True:
            st = self._ask(begin)
            if st.state == wire.TransferState.RECEIVING or st.state == wire.TransferState.VERIFIED:
                if st.next_offset:
                    self.stats["resumes"] += 1
                return st.next_offset
            if st.result == wire.UpdateResult.BUSY:
                busy_since = busy_since or time.monotonic()
                if time.monotonic() - busy_since > self.t.busy_s:
                    raise _Stop("refused", "BUSY", "the device stayed BUSY (its running image is on trial) for "
                                f"{self.t.busy_s:.0f} s", abort=False)
                self.stats["busy_waits"] += 1
                self._wait_confirmed()
                continue
            if st.result == wire.UpdateResult.FLASH and not self._flash_retried:
                self._flash_retried = True
                continue
            raise self._refusal(st, "UPDATE_BEGIN")

    def _wait_confirmed(self) -> None:
        self.link.wait_boot_report(self.t.answer_s, accept=lambda h, r: bool(r.confirmed))

    def _send_chunks(self, offset: int) -> int:
        """Chunks from `offset` until the device holds the whole image; the device's next_offset."""
        size = len(self.data)
        idle_rounds = 0
        while offset < size:
            conn = self.link.connection
            seqs: list[tuple[int, int]] = []  # (host seq, offset)
            at = offset
            try:
                for _ in range(self.window):
                    if at >= size:
                        break
                    piece = self.data[at:at + wire.CHUNK_MAX]
                    seqs.append((self.link.send(wire.UpdateChunk(at, piece), conn=conn), at))
                    self.stats["chunks"] += 1
                    self.stats["bytes"] += len(piece)
                    at += len(piece)
                answers = [self.link.wait_answer(seq, self.t.answer_s, conn) for seq, _ in seqs]
            except LinkDown:
                raise _Reconnect() from None
            got = [a for a in answers if a is not None]
            for a in got:
                if isinstance(a, wire.Error):
                    raise _Stop("aborted", f"ERROR_0x{a.code:04x}", f"the device answered UPDATE_CHUNK with ERROR "
                                f"0x{a.code:04x}: {a.text}")
                if a.state == wire.TransferState.REFUSED:
                    raise self._refusal(a, "UPDATE_CHUNK")
                if a.state == wire.TransferState.IDLE:  # the device lost the transfer (it restarted): begin again
                    raise _Reconnect()
                if a.result == wire.UpdateResult.OUT_OF_ORDER:
                    self.stats["out_of_order"] += 1
                elif a.result not in (wire.UpdateResult.OK,):
                    raise self._refusal(a, "UPDATE_CHUNK")
            if not got:
                idle_rounds += 1
                self.stats["repeats"] += 1
                if idle_rounds > self.t.retries:
                    raise _Stop("aborted", "NO_ANSWER", f"no answer to UPDATE_CHUNK at offset {offset} after "
                                f"{idle_rounds} tries")
                continue  # repeat the same window
            idle_rounds = 0
            # answers come in the order of the requests; next_offset never goes back within a transfer
            offset = max(offset, max(a.next_offset for a in got if isinstance(a, wire.UpdateState)))
        return offset

    def _end(self, _held: int) -> int | None:
        """UPDATE_END once the device holds `_held` (the whole image): None when it verified the image, else the
        offset to send again from."""
        st = self._ask(wire.UpdateEnd(), self.t.verify_s)
        if st.state == wire.TransferState.VERIFIED:
            return None
        if st.state == wire.TransferState.RECEIVING and st.result == wire.UpdateResult.INCOMPLETE:
            return st.next_offset
        if st.state == wire.TransferState.IDLE:
            raise _Reconnect()  # the device lost the transfer: begin again
        raise self._refusal(st, "UPDATE_END")

    def _drain(self) -> None:
        """Every BEAT and ALERT the device holds is in the queue and acknowledged (docs/protocol.md 3.6)."""
        deadline = time.monotonic() + self.t.drain_s
        while True:
            try:
                status = self.link.request_status(min(self.t.status_s, max(0.1, deadline - time.monotonic())))
                if self.link.wait_held(status.last_seq, max(0.1, deadline - time.monotonic())):
                    self.link.flush_ack()
                    if self.link.acked >= status.last_seq:
                        return
            except (LinkDown, TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise _Stop("aborted", "DRAIN", f"the queue could not take and acknowledge every BEAT/ALERT the "
                            f"device holds within {self.t.drain_s:.0f} s (held through seq {self.link.held_through}, "
                            f"{self.link.counters.last_error or 'no link error'})")
            try:
                self.link.wait_ready(max(0.1, deadline - time.monotonic()))
            except TimeoutError:
                pass

    def _install(self) -> FlashOutcome:
        assert self.image is not None
        boot = self.link.boot_id
        for _attempt in range(self.t.retries + 1):
            try:
                ans = self.link.request(wire.UpdateInstall(), self.t.answer_s)
            except LinkDown:
                ans = None  # the device may have reset already (a board's USB goes away): its new boot says
                try:
                    self.link.wait_ready(self.t.boot_s)
                except TimeoutError:
                    break
            if isinstance(ans, wire.UpdateState):
                if ans.state == wire.TransferState.INSTALLING:
                    break
                if ans.state == wire.TransferState.REFUSED:
                    raise self._refusal(ans, "UPDATE_INSTALL")
                if self.link.boot_id != boot:
                    break  # answered by the new boot (NOT_VERIFIED): the BOOT_REPORT tells
                raise _Stop("aborted", result_name(ans.result), "the device would not install: "
                            f"{result_name(ans.result)} in state {wire.TransferState(ans.state).name}")
            if self.link.boot_id not in (None, boot):
                break
            self.stats["repeats"] += 1
        else:
            raise _Stop("aborted", "NO_ANSWER", "no answer to UPDATE_INSTALL")
        return self._after_boot(boot)

    def _after_boot(self, old_boot: int | None) -> FlashOutcome:
        got = self.link.wait_boot_report(self.t.boot_s, accept=lambda h, r: h.boot_id != old_boot)
        if got is None:
            return self._outcome("aborted", "NO_BOOT", f"no HELLO and BOOT_REPORT of a new boot within "
                                 f"{self.t.boot_s:.0f} s of UPDATE_INSTALL")
        hello, rep = got
        return self.judge(hello, rep)

    def judge(self, hello: wire.Hello, rep: wire.BootReport) -> FlashOutcome:
        """The outcome from the new boot's HELLO and BOOT_REPORT (waits for the confirmation of an image on
        trial, which comes as a second BOOT_REPORT, or for the revert's next boot)."""
        assert self.image is not None
        want = self.image.header.version
        running = (rep.version_major, rep.version_minor, rep.version_revision, rep.version_build)
        outcome = wire.BootOutcome(rep.last_outcome)
        if outcome == wire.BootOutcome.INSTALLED and running == want:
            if not rep.confirmed:
                got = self._wait_confirmation(hello.boot_id)
                if got is None:
                    return self._outcome("installed", "NOT_CONFIRMED_YET", f"{version_text(*want)} runs on trial: "
                                         f"no confirmation within {self.t.confirm_s:.0f} s", hello, rep, False)
                hello, rep = got
                if rep.last_outcome != wire.BootOutcome.INSTALLED or not rep.confirmed:
                    return self.judge(hello, rep)
            return self._outcome("installed", "OK", f"{version_text(*want)} runs and confirmed itself (slot "
                                 f"{rep.running_slot}, firmware {hello.firmware_version}, model "
                                 f"{hello.model_version}, security counter {rep.security_counter})", hello, rep, True)
        reason = result_name(rep.reason)
        old = version_text(*running)
        if outcome == wire.BootOutcome.REFUSED:
            return self._outcome("refused", reason, f"the bootloader refused the new image: {reason} "
                                 f"({_RESULT_TEXT.get(rep.reason, '')}); {old} runs", hello, rep, bool(rep.confirmed))
        if outcome == wire.BootOutcome.REVERTED:
            return self._outcome("reverted", reason, f"the new image was reverted: {reason} "
                                 f"({_RESULT_TEXT.get(rep.reason, '')}); {old} runs again", hello, rep,
                                 bool(rep.confirmed))
        return self._outcome("aborted", outcome.name, f"the device rebooted into {old} and reports "
                             f"{outcome.name}, not this image ({version_text(*want)})", hello, rep, bool(rep.confirmed))

    def _wait_confirmation(self, boot: int) -> tuple[wire.Hello, wire.BootReport] | None:
        return self.link.wait_boot_report(self.t.confirm_s, accept=lambda h, r: h.boot_id != boot or bool(r.confirmed))

    def _abort(self) -> None:
        """UPDATE_ABORT, repeated until answered (best effort: a device that is gone forgets the transfer too)."""
        for _ in range(3):
            try:
                ans = self.link.request(wire.UpdateAbort(), self.t.answer_s)
            except LinkDown:
                try:
                    self.link.wait_ready(self.t.answer_s)
                except TimeoutError:
                    return
                continue
            if ans is not None:
                return

    def _outcome(self, result: str, reason: str, detail: str, hello: wire.Hello | None = None,
                 rep: wire.BootReport | None = None, confirmed: bool = False) -> FlashOutcome:
        assert self.image is not None
        return FlashOutcome(result, reason, detail, self.image.header.version_text, self.image.security_counter,
                            hashlib.sha256(self.data).hexdigest(), confirmed, hello or self.link.hello, rep,
                            dict(self.stats))


_RESULT_TEXT: dict[int, str] = {
    wire.UpdateResult.BAD_SIZE: "the image is empty or larger than a slot",
    wire.UpdateResult.BAD_OFFSET: "a chunk beyond the image",
    wire.UpdateResult.BAD_LENGTH: "a chunk of a length that is not a multiple of 4",
    wire.UpdateResult.BUSY: "the running image is still on trial, or an install is under way",
    wire.UpdateResult.FLASH: "erasing, writing or reading back the slot failed",
    wire.UpdateResult.TRANSFER_HASH: "the bytes received do not have the announced sha256",
    wire.UpdateResult.BAD_IMAGE: "not a well-formed MCUboot image",
    wire.UpdateResult.IMAGE_HASH: "the image's SHA256 TLV does not match its contents",
    wire.UpdateResult.UNKNOWN_KEY: "signed with another key",
    wire.UpdateResult.BAD_SIGNATURE: "the signature does not verify",
    wire.UpdateResult.WRONG_TARGET: "built for another target",
    wire.UpdateResult.SECURITY_COUNTER: "its security counter is below the device's",
    wire.UpdateResult.MANIFEST_MISMATCH: "the signed version or counter is not what was announced",
    wire.UpdateResult.SELF_TEST_FAILED: "the new image's self-test failed",
    wire.UpdateResult.NOT_CONFIRMED: "the new image reset before it confirmed itself",
}


def flash_release(link: DeviceLink, image_bytes: bytes, *, target: str | None = None,
                  timing: FlashTiming | None = None) -> FlashOutcome:
    """The bridge service's call when the server assigns a release (issue 11), and `heartbeat flash`'s: the
    outcome of flashing `image_bytes` over the running `link`. FlashError when the host refuses the image before
    sending anything."""
    return Flasher(link, image_bytes, target=target, timing=timing).run()
