"""Realistic ``recentchange`` events, one at a time: the clock, the users and their bursts,
and every event type's real shape (:class:`_EventFactory`)."""

from __future__ import annotations

import random
import time
from datetime import datetime, timezone
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

from local_runtime.generator.labels import (
    _BURST_OWN_P,
    _BURST_START_P,
    _EPOCH,
    _LARGE_ADD_P,
    _LARGE_DEL_P,
    _LOG_WITHOUT_ID_P,
    _SCHEMA_URI,
)
from local_runtime.generator.pools import (
    _Domain,
    _html_escape,
    _Page,
    _parsed,
    _pick,
    _Pools,
    _url_path,
    _uuid4,
)

# ----------------------------------------------------------------------- events


class _Clock:
    """Slot ``i`` is at ``start + i / rate``, in integer microseconds (no float drift)."""

    def __init__(self, start: datetime, rate_per_s: float) -> None:
        if start.tzinfo is None:
            start = start.replace(tzinfo=timezone.utc)
        td = start - _EPOCH
        self.start_us = (td.days * 86400 + td.seconds) * 1_000_000 + td.microseconds
        self.step_us = 1_000_000 / rate_per_s
        self._sec = -1
        self._prefix = ""

    def at(self, slot: int) -> int:
        return self.start_us + int(slot * self.step_us + 0.5)

    def iso(self, t_us: int) -> str:
        """``2026-11-01T00:00:00.020Z``; the seconds part is cached (it changes rarely)."""
        sec = t_us // 1_000_000
        if sec != self._sec:
            self._sec, self._prefix = sec, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
        return f"{self._prefix}.{(t_us // 1000) % 1000:03d}Z"


class _User(NamedTuple):
    name: str
    klass: str  # one of _EDITOR_WEIGHTS


class _Burst:
    """One user editing many wikis within seconds (vandalism sprees, cross-wiki spam)."""

    def __init__(self, user: _User, domains: List[_Domain], slots: int) -> None:
        self.user, self.domains, self.remaining = user, domains, slots


class _EventFactory:
    """Builds valid event dicts; counters (rc ids, revisions, offsets) advance per event."""

    def __init__(self, pools: _Pools, rng: random.Random) -> None:
        self.p, self.rng = pools, rng
        self.rc_id = {d.name: rng.randrange(10**8, 3 * 10**9) for d in pools.domains + pools.unknown_domains}
        self.rev_id = {d.name: rng.randrange(10**8, 2 * 10**9) for d in pools.domains + pools.unknown_domains}
        self.log_id = {d.name: rng.randrange(10**7, 10**9) for d in pools.domains + pools.unknown_domains}
        self.offset = rng.randrange(10**9, 6 * 10**9)
        self.burst: Optional[_Burst] = None

    # -- choices

    def user(self) -> _User:
        p, rng = self.p, self.rng
        klass = _pick(rng, p.editors, p.editor_cum)
        if klass == "registered":
            return _User(_pick(rng, p.registered, p.registered_cum), klass)
        if klass == "bot":
            return _User(_pick(rng, p.bots, p.bots_cum), klass)
        pool = p.temporary if klass == "temporary" else p.ipv4 if klass == "ipv4" else p.ipv6
        return _User(pool[int(rng.random() * len(pool))], klass)

    def start_burst(self) -> None:
        rng = self.rng
        user = self.user()
        while user.klass == "bot":  # bursts model humans (or vandals), not approved bots
            user = self.user()
        domains = rng.sample(self.p.domains, rng.randint(3, 6))
        self.burst = _Burst(user, domains, rng.randint(40, 150))

    def page(self, domain: _Domain, ns: int) -> _Page:
        """A page in namespace ``ns`` of ``domain``: its title and quoted path under ``/wiki/``."""
        p, rng = self.p, self.rng
        prefix, qprefix = p.ns_prefix[ns]
        if domain.kind == "wikidata" and ns in (0, 120, 146):
            letter = "Q" if ns == 0 else "P" if ns == 120 else "L"
            body = f"{letter}{rng.randrange(1, 130_000_000 if ns == 0 else 13_000)}"
            title, path = prefix + body, qprefix + body
        elif ns == 6:
            page = p.files[int(rng.random() * len(p.files))]
            title, path = prefix + page.title, qprefix + page.url_path
        else:
            pages = p.pages[domain.language]
            page = pages[int(rng.random() * len(pages))]
            title, path = prefix + page.title, qprefix + page.url_path
        return _Page(title, path)

    def sizes(self) -> Tuple[int, int]:
        """``(old, new)`` page lengths of an edit: small changes, rare huge ones."""
        rng = self.rng
        old = 500 + int(rng.expovariate(1 / 30_000))
        u = rng.random()
        if u < _LARGE_ADD_P:
            delta = rng.randint(50_001, 250_000)
        elif u < _LARGE_ADD_P + _LARGE_DEL_P:
            delta = -rng.randint(5_001, 80_000)
            old = max(old, -delta + rng.randrange(0, 5_000))
        else:
            delta = int(rng.expovariate(1 / 150)) * (1 if rng.random() < 0.62 else -1)
            old = max(old, -delta)
        return old, old + delta

    # -- events

    def event(self, t_us: int, clock: _Clock, domain: Optional[_Domain] = None) -> Dict[str, Any]:
        """A valid event at ``t_us``; ``domain`` overrides the weighted pick."""
        p, rng = self.p, self.rng
        burst = self.burst
        if burst is not None and rng.random() < _BURST_OWN_P:
            user = burst.user
            etype = "edit" if rng.random() < 0.9 else "new"
            dom = domain or burst.domains[int(rng.random() * len(burst.domains))]
        else:
            user = self.user()
            etype = _pick(rng, p.types, p.type_cum)
            dom = domain or _pick(rng, p.domains, p.domain_cum)
        if burst is not None:
            burst.remaining -= 1
            if burst.remaining <= 0:
                self.burst = None
        elif rng.random() < _BURST_START_P:
            self.start_burst()

        event_id = _uuid4(rng)
        self.offset += 1
        self.rc_id[dom.name] += 1
        bot = user.klass == "bot"
        ev: Dict[str, Any] = {
            "$schema": _SCHEMA_URI,
            "meta": {
                "uri": "",
                "request_id": _uuid4(rng),
                "id": event_id,
                "dt": clock.iso(t_us),
                "domain": dom.name,
                "stream": "mediawiki.recentchange",
                "topic": "eqiad.mediawiki.recentchange",
                "partition": 0,
                "offset": self.offset,
            },
            "id": self.rc_id[dom.name],
            "type": etype,
            "namespace": 0,
            "title": "",
            "title_url": "",
            "comment": "",
            "timestamp": t_us // 1_000_000,
            "user": user.name,
            "bot": bot,
        }
        if etype == "categorize":
            self._categorize(ev, dom)
        elif etype == "log":
            self._log(ev, dom, user)
        else:
            ns = 0 if etype == "external" else _pick(rng, *p.ns[dom.kind])
            ev["namespace"] = ns
            page = self.page(dom, ns)
            ev["title"], ev["title_url"] = page.title, f"{dom.server_url}/wiki/{page.url_path}"
            comments = p.comments["wikidata" if etype == "external" else dom.kind]
            ev["comment"], parsed = comments[int(rng.random() * len(comments))]
            if etype != "external":
                self._revision(ev, dom, user, etype)
            ev["parsedcomment"] = parsed
        ev["meta"]["uri"] = ev["title_url"]
        ev["server_url"] = dom.server_url
        ev["server_name"] = dom.name
        ev["server_script_path"] = "/w"
        ev["wiki"] = dom.wiki
        if "parsedcomment" not in ev:
            ev["parsedcomment"] = _parsed(ev["comment"])
        return ev

    def _revision(self, ev: Dict[str, Any], dom: _Domain, user: _User, etype: str) -> None:
        rng = self.rng
        self.rev_id[dom.name] += 1
        rev = self.rev_id[dom.name]
        if etype == "new":
            ev["notify_url"] = f"{dom.server_url}/w/index.php?oldid={rev}"
            ev["minor"] = False
            if dom.patrolling:
                ev["patrolled"] = user.klass in ("bot", "registered") and rng.random() < 0.5
            length = (
                rng.randint(50, 20_000) if rng.random() > _LARGE_ADD_P * 5 else rng.randint(50_001, 150_000)
            )
            ev["length"] = {"new": length}
            ev["revision"] = {"new": rev}
            return
        old_rev = rev - rng.randint(1, 5_000_000)
        ev["notify_url"] = f"{dom.server_url}/w/index.php?diff={rev}&oldid={old_rev}"
        ev["minor"] = user.klass in ("bot", "registered") and rng.random() < 0.25
        if dom.patrolling:
            ev["patrolled"] = user.klass in ("bot", "registered") and rng.random() < 0.7
        old, new = self.sizes()
        ev["length"] = {"old": old, "new": new}
        ev["revision"] = {"old": old_rev, "new": rev}

    def _categorize(self, ev: Dict[str, Any], dom: _Domain) -> None:
        p, rng = self.p, self.rng
        cats = p.categories[dom.language]
        cat = cats[int(rng.random() * len(cats))]
        ev["namespace"] = 14
        ev["title"] = "Category:" + cat.title
        ev["title_url"] = f"{dom.server_url}/wiki/Category:{cat.url_path}"
        member = self.page(dom, 6 if dom.kind == "commons" else 0)
        verb = "added to" if rng.random() < 0.8 else "removed from"
        ev["comment"] = f"[[:{member.title}]] {verb} category"
        text = _html_escape(member.title)
        ev["parsedcomment"] = f'<a href="/wiki/{member.url_path}" title="{text}">{text}</a> {verb} category'
        ev["notify_url"] = f"{dom.server_url}/w/index.php?diff={rng.randrange(10**8, 2 * 10**9)}&oldid=0"

    def _log(self, ev: Dict[str, Any], dom: _Domain, user: _User) -> None:
        p, rng = self.p, self.rng
        log_type, action = _pick(rng, p.log_types, p.log_cum)
        self.log_id[dom.name] += 1
        params: Any = []
        if log_type == "abusefilter":
            # Filter hits are logged against Special: pages: the stream's negative namespace.
            ns, title = -1, f"Special:AbuseFilter/{rng.randrange(1, 1500)}"
            params = {"action": "edit", "filter": str(rng.randrange(1, 1500)), "actions": "tag"}
            url = f"{dom.server_url}/wiki/{_url_path(title)}"
            action_comment = f"{user.name} triggered {title}"
        elif log_type in ("newusers", "block", "thanks"):
            ns = 2
            target = user.name if log_type == "newusers" else _pick(rng, p.registered, p.registered_cum)
            title, url = "User:" + target, f"{dom.server_url}/wiki/User:{_url_path(target)}"
            if log_type == "block":
                params = {"duration": "31 hours", "flags": "nocreate,noautoblock", "sitewide": True}
                action_comment = f"blocked [[User:{target}]] with an expiration time of 31 hours"
            elif log_type == "thanks":
                action_comment = f"{user.name} thanked {target}"
            else:
                params = {"userid": rng.randrange(1, 50_000_000)}
                action_comment = "New user account"
        else:
            ns = 6 if log_type == "upload" else 0
            page = self.page(dom, ns)
            title, url = page.title, f"{dom.server_url}/wiki/{page.url_path}"
            if log_type == "move":
                params = {"target": title + " (disambiguation)", "noredir": "0"}
            elif log_type == "patrol":
                params = {"curid": rng.randrange(10**8, 2 * 10**9), "previd": rng.randrange(10**8), "auto": 0}
            elif log_type == "upload":
                params = {"img_sha1": f"{rng.getrandbits(124):031x}", "img_timestamp": ev["meta"]["dt"]}
            action_comment = f"{log_type} [[{title}]]"
        if rng.random() < _LOG_WITHOUT_ID_P:
            del ev["id"]  # real log events can come without a recentchange id
        ev["namespace"], ev["title"], ev["title_url"] = ns, title, url
        ev["comment"] = ""
        ev["log_id"] = self.log_id[dom.name]
        ev["log_type"] = log_type
        ev["log_action"] = action
        ev["log_params"] = params
        ev["log_action_comment"] = action_comment
