#!/usr/bin/python3
"""gen_corpus.py -- the synthetic policy corpus of `make bench-docs`.

Writes, deterministically from --seed:

  OUT_DIR/corpus.jsonl   one line per version:
                         {"policy_id", "version_id", "effective_from", "tree"}
                         where tree is a PageIndex document
                         {doc_name, doc_description, structure: [...]}
  OUT_DIR/picks_*.tsv    the random choices of the query scripts (same for
                         treestore and native): i, then the arguments

The corpus looks like insurance / medical policy documents: --policies
policies (default 200), two versions each (v1 effective 2023-01-01 + 0..179
days, v2 effective 2024-07-01 + 0..179 days; v2 supersedes v1), about
--nodes-per-version nodes per version (default 875) in trees of depth 3 to 5
under top-level sections such as "Coverage Rationale", "Applicable Codes",
"Definitions", "References" and "Policy History".  Each node has a pre-order
node_id ("0000", "0001", ...), a title of 3-8 words, start_index/end_index
pages, a summary of about 25 words and a text of about 80 words.  Words come
from a medical / insurance vocabulary with a Zipf-like frequency (rank r has
weight 1/r^1.1) over English function words (the top ranks, about half of
the prose, as in English), a few hundred common policy words, then several
thousand rare compound terms, codes and drug names.  The search queries use
2-3 common-to-medium frequency words (each in roughly 5% to 50% of the
nodes).

Standard library only; run with /usr/bin/python3.
"""

import argparse
import bisect
import datetime
import itertools
import json
import os
import random

# Common policy / clinical words, roughly most frequent first.
COMMON = """
coverage medical patient treatment policy services clinical benefit plan
criteria member provider therapy health care necessary procedure diagnosis
documentation surgery evidence authorization prior physician condition
symptoms requirements testing reimbursement claims guidelines evaluation
management imaging chronic acute disease device program review eligible
covered excluded limitations dental behavioral pharmacy prescription drug
dose infusion injection hospital inpatient outpatient facility emergency
admission discharge rehabilitation physical occupational speech genetic
laboratory screening preventive diagnostic pain spinal cardiac pulmonary
renal oncology cancer tumor radiation chemotherapy transplant pediatric adult
pregnancy maternity mental substance disorder sleep apnea obesity bariatric
diabetes insulin glucose monitoring hypertension stroke orthopedic knee hip
shoulder fracture joint replacement arthroscopy wound ostomy durable
equipment orthotic prosthetic wheelchair oxygen ventilator home hospice
skilled nursing respite ambulance transport telehealth virtual consultation
specialist referral network utilization concurrent retrospective appeal
denial grievance exception formulary tier generic biosimilar specialty
quantity limit step experimental investigational unproven efficacy safety
randomized controlled trial cohort study outcome mortality morbidity
quality peer reviewed literature systematic meta analysis recommendation
society association consensus statement national comprehensive network
federal regulation medicare medicaid commercial exchange state mandate
billing code modifier unit frequency duration interval episode visit
session assessment plan goals progress functional improvement measurable
baseline severity score scale index threshold age years months weeks
history failure contraindication intolerance adverse reaction response
remission relapse recurrence progression maintenance induction first line
second third agent combination monotherapy regimen protocol indication
label approved fda compendia off use coding ICD CPT HCPCS revenue
place service definitions references background rationale summary
""".split()

STOP = """the of and to a in for is or with be by as on that are at this
an from which may when not all any must should was were has have been""".split()

PREFIX = """cardio neuro gastro hepato nephro osteo derma hemato myelo
pneumo broncho laryngo rhino oto ophthalmo arthro chondro angio phlebo
lympho thyro adreno pancreato cholecysto colo entero procto cysto uretero
hystero colpo mammo spondylo encephalo""".split()
SUFFIX = """itis ectomy plasty scopy otomy ostomy pathy algia megaly
genesis graphy logy lysis plegia rrhaphy sclerosis stenosis trophy emia
oma""".split()
DRUG_A = "ada infli rituxi trastu pembro nivo atezo beva ceti denosu omali dupi secuki ustekin vedoli ocreli natali tocili sari guselku risanki".split()
DRUG_B = "mab umab ximab zumab limab".split()
DRUG_C = "apre tofa bari upada rux ibru acala zanu imati dasa nilo erlo gefi osimer palbo ribo abema olapa nirapa".split()
DRUG_D = "tinib citinib lisib parib ciclib".split()

SECTIONS = [
    "Coverage Rationale", "Applicable Codes", "Definitions", "Background",
    "Benefit Considerations", "Clinical Evidence", "U.S. Food and Drug Administration",
    "Documentation Requirements", "Centers for Medicare and Medicaid Services",
    "References", "Policy History", "Instructions for Use",
]

# 2-3 word queries of common-to-medium frequency words (all in COMMON).
QUERIES = [
    "prior authorization", "physical therapy", "genetic testing", "sleep apnea",
    "bariatric surgery", "durable medical equipment", "home health care",
    "knee replacement", "infusion therapy", "skilled nursing facility",
    "experimental investigational", "step therapy", "pain management",
    "diabetes insulin monitoring", "mental health", "spinal imaging",
    "oncology chemotherapy", "transplant evaluation", "telehealth consultation",
    "speech therapy pediatric", "oxygen equipment", "ambulance transport",
    "hospice respite", "biosimilar formulary", "cardiac rehabilitation",
    "wound care", "substance disorder treatment", "pregnancy screening",
    "orthotic prosthetic", "radiation oncology",
]


def build_vocab():
    words = list(dict.fromkeys(w.lower() for w in COMMON))
    rare = [p + s for p in PREFIX for s in SUFFIX]
    rare += [a + b for a in DRUG_A for b in DRUG_B]
    rare += [a + b for a in DRUG_C for b in DRUG_D]
    rng = random.Random(12345)
    rng.shuffle(rare)
    # codes: CPT-like 5 digits, ICD-10-like
    rare += ["%05d" % rng.randrange(10000, 99999) for _ in range(1500)]
    rare += ["%s%02d.%d" % (rng.choice("EGIJKMNRZ"), rng.randrange(100), rng.randrange(10))
             for _ in range(1500)]
    vocab = words + [w for w in dict.fromkeys(rare) if w not in words]
    return vocab


class Words:
    """Words by Zipf rank: prose draws from the function words (the top
    ranks, as in English) and then the content vocabulary; titles draw from
    the content vocabulary alone."""

    def __init__(self, rng, vocab):
        self.rng = rng
        self.vocab = vocab
        self.all = STOP + vocab
        self.cum_all = list(itertools.accumulate(1.0 / (r + 1) ** 1.1 for r in range(len(self.all))))
        self.cum = list(itertools.accumulate(1.0 / (r + 1) ** 1.1 for r in range(len(vocab))))

    @staticmethod
    def _draw(rng, words, cum, n):
        total = cum[-1]
        return [words[bisect.bisect_left(cum, rng.random() * total)] for _ in range(n)]

    def content(self, n):
        return self._draw(self.rng, self.vocab, self.cum, n)

    def prose(self, n):
        rng = self.rng
        out = self._draw(rng, self.all, self.cum_all, n)
        # sentences of 8-16 words
        s, i = [], 0
        while i < len(out):
            k = rng.randint(8, 16)
            chunk = out[i:i + k]
            chunk[0] = chunk[0].capitalize()
            s.append(" ".join(chunk) + ".")
            i += k
        return " ".join(s)

    def title(self):
        n = self.rng.randint(3, 8)
        ws = self.content(n)
        for i in range(1, len(ws)):
            if self.rng.random() < 0.2:
                ws[i] = self.rng.choice(["and", "for", "of", "in", "with"])
        return " ".join(w if w[0].isdigit() else w.capitalize() for w in ws)


def build_tree(rng, words, n_nodes, policy_name):
    """A PageIndex tree of about n_nodes nodes, depth 3-5."""
    n_top = rng.randint(6, 10)
    tops = ["Coverage Rationale"] + rng.sample(SECTIONS[1:-2], n_top - 3) + ["References", "Policy History"]
    budget = max(n_nodes - n_top, 0)
    w = [rng.random() + 0.3 for _ in tops]
    shares = [int(budget * x / sum(w)) for x in w]
    shares[0] += budget - sum(shares)

    def node(title, below, depth, maxdepth):
        nd = {"title": title, "node_id": None, "start_index": 0, "end_index": 0,
              "summary": words.prose(rng.randint(20, 30)),
              "text": words.prose(rng.randint(65, 95))}
        if below > 0 and depth < maxdepth:
            if depth + 1 == maxdepth:
                k = below
            else:
                # fanout so that the levels left hold the budget
                levels = maxdepth - depth
                k = max(2, min(below, round(below ** (1.0 / levels) * rng.uniform(0.7, 1.3))))
            rest = below - k
            cw = [rng.random() + 0.2 for _ in range(k)]
            sub = [int(rest * x / sum(cw)) for x in cw]
            sub[0] += rest - sum(sub)
            nd["nodes"] = [node(words.title(), s, depth + 1, maxdepth) for s in sub]
        return nd

    structure = []
    for title, share in zip(tops, shares):
        structure.append(node(title, share, 1, rng.randint(3, 5)))

    # pre-order ids and pages
    counter = itertools.count()
    page = [1]

    def number(nd):
        nd["node_id"] = "%04d" % next(counter)
        nd["start_index"] = page[0]
        if rng.random() < 0.3:
            page[0] += 1
        end = page[0]
        for c in nd.get("nodes", []):
            end = max(end, number(c))
        nd["end_index"] = end
        # children after the node's own fields, as PageIndex writes them
        if "nodes" in nd:
            nd["nodes"] = nd.pop("nodes")
        return end

    for nd in structure:
        number(nd)
    return {"doc_name": policy_name + ".pdf",
            "doc_description": "Medical policy: " + policy_name,
            "structure": structure}


def walk(structure, depth=1):
    for nd in structure:
        yield nd, depth
        yield from walk(nd.get("nodes", []), depth + 1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--policies", type=int, default=200)
    ap.add_argument("--nodes-per-version", type=int, default=875)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--picks", type=int, default=2000, help="random choices per query script")
    a = ap.parse_args()

    rng = random.Random(a.seed)
    vocab = build_vocab()
    for q in QUERIES:
        for w in q.split():
            assert w in vocab[:len(COMMON)], w
    words = Words(rng, vocab)
    today = datetime.date.today()
    os.makedirs(a.out, exist_ok=True)

    resolved = []	# (policy_id, [(node_id, depth, n_descendants)]) of the version in force today
    versions = []	# (policy_id, [effective_from])
    total = 0
    with open(os.path.join(a.out, "corpus.jsonl"), "w") as f:
        for p in range(1, a.policies + 1):
            pid = "POL-%05d" % p
            name = " ".join(w.capitalize() for w in words.content(rng.randint(2, 4))) + " Policy"
            froms = [datetime.date(2023, 1, 1) + datetime.timedelta(days=rng.randrange(180)),
                     datetime.date(2024, 7, 1) + datetime.timedelta(days=rng.randrange(180))]
            versions.append((pid, froms))
            inforce = max((i for i, d in enumerate(froms) if d <= today), default=len(froms) - 1)
            for vi, eff in enumerate(froms):
                n = max(1, int(a.nodes_per_version * rng.uniform(0.85, 1.15)))
                tree = build_tree(rng, words, n, name)
                vid = "v%d" % (vi + 1)
                json.dump({"policy_id": pid, "version_id": vid, "effective_from": eff.isoformat(),
                           "tree": tree}, f, separators=(",", ":"))
                f.write("\n")
                nodes = list(walk(tree["structure"]))
                total += len(nodes)
                if vi == inforce:
                    resolved.append((pid, [(nd["node_id"], d) for nd, d in nodes],
                                     [nd["node_id"] for nd in tree["structure"]]))

    # the query scripts' random choices, drawn from the versions in force today
    pr = random.Random(a.seed + 1)
    with open(os.path.join(a.out, "picks_subtree.tsv"), "w") as f:
        for i in range(1, a.picks + 1):
            pid, _, tops = pr.choice(resolved)
            f.write("%d\t%s\t%s\n" % (i, pid, pr.choice(tops)))
    with open(os.path.join(a.out, "picks_ancestors.tsv"), "w") as f:
        for i in range(1, a.picks + 1):
            pid, nodes, _ = pr.choice(resolved)
            deepest = max(d for _, d in nodes)
            deep = [nid for nid, d in nodes if d >= max(deepest - 1, 1)]
            f.write("%d\t%s\t%s\n" % (i, pid, pr.choice(deep)))
    with open(os.path.join(a.out, "picks_asof.tsv"), "w") as f:
        for i in range(1, a.picks + 1):
            pid, _ = pr.choice(versions)
            d = datetime.date(2022, 7, 1) + datetime.timedelta(days=pr.randrange(4 * 365))
            f.write("%d\t%s\t%s\n" % (i, pid, d.isoformat()))
    with open(os.path.join(a.out, "picks_search_policy.tsv"), "w") as f:
        for i in range(1, a.picks + 1):
            f.write("%d\t%s\t%s\n" % (i, pr.choice(resolved)[0], pr.choice(QUERIES)))
    with open(os.path.join(a.out, "picks_search_all.tsv"), "w") as f:
        for i in range(1, a.picks + 1):
            f.write("%d\t%s\n" % (i, pr.choice(QUERIES)))
    print("gen_corpus: %d policies, %d versions, %d nodes" % (a.policies, 2 * a.policies, total))


if __name__ == "__main__":
    main()
