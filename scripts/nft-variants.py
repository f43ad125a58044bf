#!/usr/bin/env python3
"""Rewrites svcbench's kube-proxy nftables text into the variants docs/nftables-scaling.md times.

  svcbench render --backend nftables-cli --services 5000 2>/dev/null > A.nft
  scripts/nft-variants.py A.nft named > V.nft
  ip netns exec svcb-<yours> nft delete table ip kube-proxy; time ip netns exec svcb-<yours> nft -f V.nft

Variants (every one leaves the same verdicts):
  notabledel        without the leading "add table; delete table" (valid on a node without the table)
  named             a named map per service instead of kube-proxy's anonymous one
  lookup-per-chain  one map for all services, looked up from every service chain (no dispatch
                    chains): quadratic again, see "Shapes that load in linear time"
"""
import re
import sys

NUMGEN = re.compile(r"^add rule ip kube-proxy (\S+) numgen random mod (\d+) vmap \{ (.*) \}$")
MASQ = re.compile(r"ip daddr (\S+) (tcp|udp) dport (\d+)")


def main(path, variant):
    out = []
    vip = proto = port = None
    for line in open(path).read().rstrip("\n").split("\n"):
        if variant == "notabledel" and line.startswith("delete table "):
            continue
        m = MASQ.search(line)
        if m:
            vip, proto, port = m.groups()
        g = NUMGEN.match(line)
        if not g or variant == "notabledel":
            out.append(line)
            if variant == "lookup-per-chain" and line.startswith("add map ip kube-proxy service-ips "):
                out.append("add map ip kube-proxy service-endpoints { typeof ip daddr . meta "
                           "l4proto . th dport . numgen random mod 2 : verdict ; }")
            continue
        chain, n, body = g.groups()
        if variant == "named":
            name = "endpoints-" + chain[len("service-"):]
            out.append(f"add map ip kube-proxy {name} {{ typeof numgen random mod {n} : verdict ; }}")
            out.append(f"add element ip kube-proxy {name} {{ {body} }}")
            out.append(f"add rule ip kube-proxy {chain} numgen random mod {n} vmap @{name}")
        elif variant == "lookup-per-chain":
            targets = [e.split(" : goto ")[1] for e in body.split(" , ")]
            elems = " , ".join(f"{vip} . {proto} . {port} . {i} : goto {t}"
                               for i, t in enumerate(targets))
            out.append(f"add element ip kube-proxy service-endpoints {{ {elems} }}")
            out.append(f"add rule ip kube-proxy {chain} ip daddr . meta l4proto . th dport . "
                       f"numgen random mod {n} vmap @service-endpoints")
        else:
            sys.exit(f"unknown variant {variant!r} (notabledel, named, lookup-per-chain)")
    print("\n".join(out))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
