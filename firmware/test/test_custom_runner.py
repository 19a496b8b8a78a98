"""PlatformIO custom test runner of Heartbeat Edge (`test_framework = custom`).

PlatformIO loads this file from the project's test_dir and builds each test
suite (firmware/test/test_*/) as usual; this runner then runs the program and
decides pass/fail from two sources that must agree:

* the lines the harness (hbtest.h) prints, one per case:
      CASE <name> PASS
      CASE <name> FAIL <file>:<line>: <expression>
      hbtest: <passed> passed, <failed> failed
* the program's exit status: the host binary's, or QEMU's, which under
  `-semihosting-config enable=on,target=native` is the status the firmware
  passed to SYS_EXIT_EXTENDED (0 = every case passed).

A crash, a timeout, a missing summary, counts that disagree, or a status that
contradicts the lines all make the suite fail with an explanation.

How the program is run, per environment:
* `test_testing_command` (a PlatformIO option), when set;
* platform `native`: <build_dir>/<env>/program;
* a board whose manifest has a "qemu" section (boards/mps2_an386.json):
      qemu-system-arm -M <machine> -nographic -monitor none <flags>
                      -serial stdio -kernel <build_dir>/<env>/firmware.elf
  the UART is QEMU's stdio, so the runner reads it line by line.
If the suite folder holds `input.txt`, its bytes are sent to the program's
UART (stdin) and then the input is closed. `custom_test_timeout` (seconds,
default 60) bounds each run.
"""

import os
import re
import subprocess
import threading

import click
from platformio.test.exception import UnitTestError
from platformio.test.result import TestCase, TestCaseSource, TestStatus
from platformio.test.runners.base import TestRunnerBase

DEFAULT_TIMEOUT_S = 60
INPUT_FILE_NAME = "input.txt"

CASE_RE = re.compile(
    r"^CASE (?P<name>\S+) (?P<status>PASS|FAIL|SKIP)"
    r"(?: (?P<file>[^\s:][^:]*):(?P<line>\d+):(?: (?P<message>.*))?)?\s*$"
)
SUMMARY_RE = re.compile(r"^hbtest: (?P<passed>\d+) passed, (?P<failed>\d+) failed\s*$")

_STATUS = {"PASS": TestStatus.PASSED, "FAIL": TestStatus.FAILED, "SKIP": TestStatus.SKIPPED}


def parse_case_line(line):
    """Returns a TestCase for a `CASE ...` line, else None."""
    match = CASE_RE.match(line.rstrip("\r\n"))
    if not match:
        return None
    source = None
    if match.group("file"):
        source = TestCaseSource(match.group("file"), int(match.group("line")))
    return TestCase(
        name=match.group("name"),
        status=_STATUS[match.group("status")],
        message=match.group("message"),
        source=source,
    )


def parse_summary_line(line):
    """Returns (passed, failed) for the harness's summary line, else None."""
    match = SUMMARY_RE.match(line.rstrip("\r\n"))
    if not match:
        return None
    return int(match.group("passed")), int(match.group("failed"))


def judge_run(cases, summary, returncode, timed_out, timeout_s):
    """Checks a finished run for consistency.

    cases: the TestCases parsed from the output; summary: (passed, failed) or
    None; returncode: the exit status (negative: killed by that signal).
    Returns a list of problems, each a sentence; empty when the run is sound.
    """
    problems = []
    if timed_out:
        problems.append(f"the program did not finish within {timeout_s} s and was stopped")
        return problems
    if returncode is not None and returncode < 0:
        problems.append(f"the program was killed by signal {-returncode}")
    passed = sum(1 for c in cases if c.status == TestStatus.PASSED)
    failed = sum(1 for c in cases if c.status == TestStatus.FAILED)
    if not cases:
        problems.append("no test case ran")
    if summary is None:
        problems.append(
            f"the program ended (exit status {returncode}) without the summary line "
            "'hbtest: N passed, N failed': it crashed or exited early"
        )
    elif summary != (passed, failed):
        problems.append(
            f"the summary says {summary[0]} passed, {summary[1]} failed but {passed} passing and {failed} failing "
            "cases were printed"
        )
    if returncode is not None and returncode > 0 and failed == 0:
        problems.append(f"the program exited with status {returncode} but reported no failed case")
    if returncode == 0 and failed > 0:
        problems.append(f"{failed} case(s) failed but the program exited with status 0")
    return problems


class CustomTestRunner(TestRunnerBase):
    NAME = "custom"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._cases = []
        self._summary = None

    # -- configuration --------------------------------------------------------
    def _env_section(self):
        return f"env:{self.test_suite.env_name}"

    def _option(self, name, default=None):
        return self.project_config.get(self._env_section(), name, default)

    def _timeout_s(self):
        raw = self._option("custom_test_timeout", DEFAULT_TIMEOUT_S)
        try:
            value = float(raw)
        except (TypeError, ValueError):
            value = -1.0
        if value <= 0:
            raise UnitTestError(
                f"custom_test_timeout of [{self._env_section()}] must be a positive number of seconds, got {raw!r}"
            )
        return value

    def _build_dir(self):
        return os.path.join(
            self.project_config.get("platformio", "build_dir"), self.test_suite.env_name
        )

    def _test_command(self):
        custom = self._option("test_testing_command")
        if custom:
            return list(custom)
        if self.platform.name == "native":
            cmd = [os.path.join(self._build_dir(), "program")]
            if self.options.program_args:
                cmd.extend(self.options.program_args)
            return cmd
        board_id = self._option("board")
        qemu = self.platform.board_config(board_id).get("qemu", None) if board_id else None
        if qemu:
            elf = os.path.join(self._build_dir(), "firmware.elf")
            return (
                [qemu["system"], "-M", qemu["machine"], "-nographic", "-monitor", "none"]
                + list(qemu.get("flags", []))
                + ["-serial", "stdio", "-kernel", elf]
            )
        raise UnitTestError(
            f"[{self._env_section()}] cannot run tests on this machine: its board {board_id!r} has no QEMU model "
            "and no test_testing_command is set"
        )

    def _input_bytes(self):
        path = os.path.join(
            self.project_config.get("platformio", "test_dir"),
            self.test_suite.test_name,
            INPUT_FILE_NAME,
        )
        if os.path.isfile(path):
            with open(path, "rb") as fp:
                return fp.read()
        return b""

    # -- the run ----------------------------------------------------------------
    def stage_testing(self):
        if self.options.without_testing:
            return None
        click.secho("Testing...", bold=True)
        cmd = self._test_command()
        timeout_s = self._timeout_s()
        if self.options.verbose:
            click.echo("$ " + " ".join(cmd))
        try:
            proc = subprocess.Popen(  # pylint: disable=consider-using-with
                cmd,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
        except OSError as exc:
            raise UnitTestError(f"cannot start {cmd[0]}: {exc}") from exc

        feeder = threading.Thread(target=self._feed, args=(proc, self._input_bytes()), daemon=True)
        reader = threading.Thread(target=self._read, args=(proc,), daemon=True)
        feeder.start()
        reader.start()
        timed_out = False
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            timed_out = True
            proc.kill()
            proc.wait()
        reader.join(timeout=5)
        feeder.join(timeout=5)

        for problem in judge_run(self._cases, self._summary, proc.returncode, timed_out, timeout_s):
            self.test_suite.add_case(
                TestCase(
                    name=f"{self.test_suite.env_name}:{self.test_suite.test_name}",
                    status=TestStatus.ERRORED,
                    message=problem,
                    exception=UnitTestError(problem),
                )
            )
            click.secho("ERROR: " + problem, fg="red", err=True)
        return None

    @staticmethod
    def _feed(proc, data):
        try:
            if data:
                proc.stdin.write(data)
                proc.stdin.flush()
        except (BrokenPipeError, OSError):
            pass  # the program ended before reading its input
        finally:
            try:
                proc.stdin.close()
            except (BrokenPipeError, OSError):
                pass

    def _read(self, proc):
        for raw in iter(proc.stdout.readline, b""):
            self.on_testing_data_output(raw)
        if self._testing_output_buffer:  # a last line without a newline
            self.on_testing_line_output(self._testing_output_buffer)
            self._testing_output_buffer = ""

    def on_testing_line_output(self, line):
        case = parse_case_line(line)
        if case is not None:
            self._cases.append(case)
            self.test_suite.add_case(case)
            click.echo(case.humanize())
            if self.options.verbose:
                click.echo(line, nl=False)
            return
        summary = parse_summary_line(line)
        if summary is not None:
            self._summary = summary
        click.echo(line, nl=not line.endswith("\n"))
