"""An IHE PCD ACM alert manager for tests/tests/e2e/notify_acm.rs, on PyPI's `hl7`
(python-hl7: its parser and its asyncio MLLP server). It parses every PCD-04 the
notifier sends, checks the fields the ACM profile requires (MSH-9, MSH-21, PID-3, OBR-3,
OBR-4 and each OBX facet 1-8 with its identifier, sub-id, value set, OBX-8 and OBX-11),
answers each with a PCD-05 (ORA^R41, MSA-1 AA) and writes one JSON line per message to
the log file: the control id, the alarm's facets and the problems found (empty when the
message is conformant).

usage: acm_receiver.py PORT LOGFILE [--answer AE|AR] [--tls CERT KEY]

--answer: alarm reports (not keep-alives) get this MSA-1 instead, an application error
or reject with a reason in MSA-3. --tls: the MLLP listener is TLS 1.2+ only (Python's
ssl), serving CERT/KEY (PEM); each log line then names the negotiated version.
"""

import argparse
import asyncio
import json
import ssl

import hl7
from hl7.mllp import start_hl7_server

PROFILE = "IHE_PCD_ACM_001^IHE PCD^1.3.6.1.4.1.19376.1.6.4.4^ISO"
FACETS = {
    1: ("196616", {"CWE"}),
    3: ("68481", {"ST"}),
    4: ("68482", {"ST"}),
    5: ("68483", {"ST"}),
    6: ("68484", {"ST"}),
    7: ("68485", {"ST"}),
    8: ("68546", {"ST"}),
}
VALUES = {
    3: {"start", "continue", "end", "present", "update", "escalate", "inactivate", "deescalate", "reset", "stop"},
    4: {"off", "inactive", "active", "latched"},
    5: {"enabled", "audio-paused", "audio-off", "alarm-paused", "alarm-off", "alert-acknowledged"},
    6: {"PH", "PM", "PL", "PN"},
    7: {"SP", "ST", "SA"},
}


def field(segment, n):
    """Field n of a segment as text ('' when absent); python-hl7 numbers MSH like the spec."""
    try:
        return str(segment[n])
    except IndexError:
        return ""


def check(message):
    problems = []
    msh = message.segment("MSH")
    record = {
        "control_id": field(msh, 10),
        "type": field(msh, 9),
        "profile": field(msh, 21),
    }
    if record["type"] != "ORU^R40^ORU_R40":
        problems.append("MSH-9 " + record["type"])
    if record["profile"] != PROFILE:
        problems.append("MSH-21 " + record["profile"])
    if field(msh, 15) != "AL" or field(msh, 16) != "NE":
        problems.append("MSH-15/16")
    obx = [s for s in message if str(s[0]) == "OBX"]
    by_facet = {}
    for s in obx:
        sub_id = field(s, 4)
        try:
            facet = int(sub_id.rsplit(".", 1)[1])
        except (IndexError, ValueError):
            problems.append("OBX-4 " + sub_id)
            continue
        by_facet[facet] = s
        if field(s, 11) != "F":
            problems.append("OBX-11 of facet %d" % facet)
    facet1 = by_facet.get(1)
    record["event"] = field(facet1, 5) if facet1 is not None else ""
    record["keep_alive"] = record["event"].startswith("keep_alive")
    try:
        obr = message.segment("OBR")
    except KeyError:
        obr = None
    if obr is None or field(obr, 4) != "196616^MDC_EVT_ALARM^MDC" or not field(obr, 3):
        problems.append("OBR-3/4")
    if record["keep_alive"]:
        record["problems"] = problems
        return record
    try:
        pid = message.segment("PID")
        record["patient"] = field(pid, 3).split("^")[0]
    except KeyError:
        problems.append("no PID")
    record["alert"] = field(obr, 3).split("^")[0] if obr is not None else ""
    for facet in range(1, 9):
        s = by_facet.get(facet)
        if s is None:
            problems.append("facet %d missing" % facet)
            continue
        if facet in FACETS:
            code, types = FACETS[facet]
            if field(s, 3).split("^")[0] != code or field(s, 2) not in types:
                problems.append("facet %d OBX-2/3 %s %s" % (facet, field(s, 2), field(s, 3)))
        if facet in VALUES and field(s, 5) not in VALUES[facet]:
            problems.append("facet %d value %s" % (facet, field(s, 5)))
    flags = field(facet1, 8).split("~") if facet1 is not None else []
    if len(flags) < 2 or flags[0] not in VALUES[6] or flags[1] not in VALUES[7]:
        problems.append("OBX-8 " + "~".join(flags))
    source = by_facet.get(2)
    if source is not None and field(source, 2) == "NM":
        try:
            float(field(source, 5))
        except ValueError:
            problems.append("facet 2 value not numeric")
        if not field(source, 6):
            problems.append("facet 2 without unit")
    names = {3: "phase", 4: "state", 5: "inactivation", 6: "priority", 7: "kind", 8: "text"}
    for facet, name in names.items():
        s = by_facet.get(facet)
        record[name] = message.unescape(field(s, 5)) if s is not None else ""
    if flags and record["priority"] != flags[0]:
        problems.append("OBX-8 priority differs from facet 6")
    record["problems"] = problems
    return record


def pcd05(control_id, n, code="AA"):
    reason = {"AA": "", "AE": "|unknown patient", "AR": "|busy, try later"}[code]
    text = "\r".join(
        [
            "MSH|^~\\&|ACM|WARD|CARDIOWATCH||20261207000000+0000||ORA^R41^ORA_R41|am-%d|P|2.6" % n,
            "MSA|%s|%s%s" % (code, control_id, reason),
            "OBX|1|ST|68480^MDC_ATTR_ALERT_SOURCE^MDC|1.0.0.0.1|delivered||||||F",
        ]
    )
    return hl7.parse(text)


async def main(args):
    counter = [0]
    tls = None
    if args.tls:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.minimum_version = ssl.TLSVersion.TLSv1_2
        tls.load_cert_chain(args.tls[0], args.tls[1])

    async def on_connection(reader, writer):
        ssl_object = writer.get_extra_info("ssl_object")
        try:
            while not writer.is_closing():
                message = await reader.readmessage()
                counter[0] += 1
                try:
                    record = check(message)
                except Exception as e:  # a message the checks could not even walk
                    record = {"control_id": "", "problems": ["unparseable: %r" % e]}
                if ssl_object is not None:
                    record["tls"] = ssl_object.version()
                code = "AA" if record.get("keep_alive", True) else args.answer
                record["answered"] = code
                with open(args.log, "a") as log:
                    log.write(json.dumps(record) + "\n")
                writer.writemessage(pcd05(record.get("control_id", ""), counter[0], code))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    async with await start_hl7_server(
        on_connection, host="127.0.0.1", port=args.port, ssl=tls
    ) as server:
        print("listening", flush=True)
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("log")
    parser.add_argument("--answer", choices=["AA", "AE", "AR"], default="AA")
    parser.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    asyncio.run(main(parser.parse_args()))
