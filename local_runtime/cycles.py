"""Driving the cycles of one `make run`: the synthesized state machine executed locally
until the requested cycles completed, then, with ``--faults``, one data fault injected
after the last clean cycle and the next cycle watched until a gate fails it."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:  # pragma: no cover
    from local_runtime.platform import LocalPlatform


def drive_cycles(platform: LocalPlatform, definition: dict[str, Any], run_number: int) -> dict[str, Any]:
    """Execute the definition until CYCLES cycles completed (and a faulty one failed)."""
    from local_runtime.console.server import watching
    from local_runtime.faults import FAULTS, gold_snapshots
    from local_runtime.machine import BROKEN, POLL_S, local_state_machine

    report: dict[str, Any] = {"executions": [], "alerts": [], "fault": None}
    with (
        local_state_machine(definition, f"{platform.config.prefix}-pipeline", platform.run_job) as machine,
        watching(platform.console, machine),
    ):
        loop = f"run{run_number:04d}"
        machine.start(f"{loop}-cycle-1", platform.options.wait_seconds, loop=loop)
        completed: list[str] = []
        injected_after: Optional[str] = None
        deadline = time.monotonic() + platform.options.timeout_s
        while time.monotonic() < deadline:
            platform.check_services()
            executions = machine.executions()
            visits = machine.visited(executions)
            for e in executions:
                if "Wait" in visits[e["executionArn"]] and e["name"] not in completed:
                    completed.append(e["name"])
                    platform.status.cycle_times.append(machine.seconds(e["executionArn"]))
            broken = [e for e in executions if e["status"] in BROKEN]
            if injected_after is None and broken:
                # A clean cycle failed: stop and show why rather than wait for more cycles.
                report["unexpected_failure"] = broken[0]["name"]
                break
            latest = executions[-1]
            platform.status.cycle = f"{len(executions)}"
            platform.status.state = (visits[latest["executionArn"]] or ["-"])[-1]
            if injected_after is None and len(completed) >= platform.options.cycles:
                if not platform.options.faults:
                    break
                # The last clean cycle is in its Wait state: inject, let the loop go on.
                report["gold_before"] = gold_snapshots(platform.spark)
                for name in platform.options.faults:
                    platform.say(f"\ninjecting fault {name}: {FAULTS[name].description}")
                    FAULTS[name].inject(platform.spark, platform.config)
                injected_after, report["fault"] = completed[-1], list(platform.options.faults)
            if injected_after is not None:
                later = executions[[e["name"] for e in executions].index(injected_after) + 1 :]
                if any(e["status"] == "FAILED" for e in later):
                    report["gold_after"] = gold_snapshots(platform.spark)
                    break
                if any(e["name"] in completed for e in later):
                    report["fault_missed"] = True
                    break
            time.sleep(POLL_S)
        else:
            raise TimeoutError(f"the loop did not finish within {platform.options.timeout_s:.0f}s")
        machine.stop_running(cause="make run: requested cycles done")
        for e in machine.executions():
            report["executions"].append(
                {
                    "name": e["name"],
                    # list_executions, not describe_execution: moto cannot serialise an
                    # output holding StartExecution's datetime.
                    "status": e["status"],
                    "states": machine.states(e["executionArn"]),
                    "duration_s": machine.seconds(e["executionArn"]),
                    "completed": e["name"] in completed,
                }
            )
        report["alerts"] = machine.alerts()
    platform.status.state = "loop stopped"
    return report
