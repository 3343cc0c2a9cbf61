"""Plots `colony learn`'s DIR/report.json: held-out success and training loss per round."""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

report = json.load(open(sys.argv[1]))
rounds = [r for r in report["rounds"] if r.get("heldOutPass1") is not None]
base = report.get("baseline") or {}
fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
xs = [0] + [r["round"] for r in rounds]
left.plot(xs, [100 * base.get("heldOutPass1", 0)] + [100 * r["heldOutPass1"] for r in rounds], marker="o", label="held-out pass@1")
if "heldOutPass8" in base:
    left.axhline(100 * base["heldOutPass8"], linestyle="--", color="grey", label="base pass@8")
if "heldOutPass1" in base:
    left.axhline(min(100, 100 * base["heldOutPass1"] + 25), linestyle=":", color="green", label="bar: base pass@1 + 25 points")
left.set_xlabel("round (0 = base)")
left.set_ylabel("held-out success (%)")
left.set_ylim(0, 100)
left.legend()
right.plot([r["round"] for r in rounds], [r.get("trainLoss") for r in rounds], marker="o", label="training loss (last step)")
right.plot([r["round"] for r in rounds], [r.get("generalLoss") for r in rounds], marker="s", label="general-chat loss")
if "generalLoss" in base:
    right.axhline(base["generalLoss"], linestyle="--", color="grey", label="base general-chat loss")
    right.axhline(1.1 * base["generalLoss"], linestyle=":", color="red", label="bar: base general-chat loss + 10%")
right.set_xlabel("round")
right.set_ylabel("loss")
right.legend()
fig.suptitle("colony learn: learning from its own attempts")
fig.tight_layout()
fig.savefig(sys.argv[2], dpi=110)
