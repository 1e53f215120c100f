"""Put the app on a Hugging Face Space: exactly the files git tracks (what a clean clone has), uploaded with
huggingface_hub, which sends the large ones (checkpoints, the WebAssembly runtime) through LFS/Xet — a plain
`git push` of them is refused by the Hub.

`python -m explorer deploy-space OWNER/NAME [--private] [--hardware zero-a10g|cpu-basic|cpu-upgrade]`
"""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from training.errors import UserError

ROOT = Path(__file__).resolve().parent.parent
# Not needed to run the app on a Space (kept in the repository for developers).
NOT_DEPLOYED = ("tests/", "benchmarks/", ".ci/", "docs/")
# What a Gradio Space may run on, and who may create it there (Hugging Face's Spaces overview and ZeroGPU pages, read
# 2026-12-07): ZeroGPU for a free personal account (up to 2 Spaces; verified e-mail, account older than 30 days),
# PRO and organisations; CPU hardware only with PRO (a person) or a Team/Enterprise plan (an organisation).
HARDWARE = {
    "zero-a10g": "ZeroGPU: the Train tab's runs train on a GPU, on each visitor's own daily GPU time",
    "cpu-basic": "2 vCPU: runs train one at a time on one core (PRO or a paid organisation)",
    "cpu-upgrade": "8 vCPU, paid by the hour",
}
DEFAULT_HARDWARE = "zero-a10g"  # the one a free account can host; the model runs in each visitor's browser anyway


def space_files(root: Path = ROOT) -> list[str]:
    """The files a Space gets: tracked by git (so nothing .gitignore'd: no .venv, data, caches, train_state), minus
    the developer-only folders."""
    try:
        listed = subprocess.run(["git", "-C", str(root), "ls-files", "-z"], capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as err:
        raise UserError(f"{root} is not a git checkout ({err}); deploy from a clone of the repository.") from None
    files = [f for f in listed.decode().split("\0") if f]
    return sorted(f for f in files if not f.startswith(NOT_DEPLOYED) and (root / f).is_file())


def deploy_space(repo_id: str, root: Path = ROOT, private: bool = False, hardware: str = DEFAULT_HARDWARE,
                 endpoint: str | None = None, token: str | None = None) -> str:
    """Create (or update) the Gradio Space and upload `space_files` as one commit; returns the commit URL."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError, LocalTokenNotFoundError

    from training.hub import HUB_PREFIX, parse_hub_spec

    parse_hub_spec(HUB_PREFIX + repo_id)
    if hardware not in HARDWARE:
        raise UserError(f"--hardware must be one of {', '.join(HARDWARE)}, not {hardware[:40]!r}.")
    files = space_files(root)
    api = HfApi(endpoint=endpoint, token=token)
    try:
        refuse_what_the_hub_would(api.whoami(), repo_id, hardware)
        api.create_repo(repo_id, repo_type="space", space_sdk="gradio", space_hardware=hardware, private=private, exist_ok=True)
        info = api.upload_folder(repo_id=repo_id, repo_type="space", folder_path=str(root), allow_patterns=files,
                                 commit_message="Deploy vae-explorer")
    except HfHubHTTPError as err:
        raise UserError(f"The Hub refused the Space upload to {repo_id} ({str(err).splitlines()[0][:200]}): log in with "
                        "`hf auth login` (a token with write access).") from None
    except LocalTokenNotFoundError:
        raise UserError("Log in first with `hf auth login` (a token with write access), or set $HF_TOKEN.") from None
    except OSError as err:
        raise UserError(f"Could not reach the Hub to deploy {repo_id} ({err}).") from None
    return info.commit_url


def refuse_what_the_hub_would(account: dict, repo_id: str, hardware: str) -> None:
    """A free personal account cannot create a Gradio Space on CPU hardware: say so before anything is uploaded.
    (An organisation's plan is not in the login's answer: the Hub itself refuses it, and that refusal is reported.)"""
    owner = repo_id.split("/")[0]
    if hardware.startswith("cpu") and owner == account.get("name") and not account.get("isPro"):
        raise UserError(f"A free Hugging Face account cannot host a Gradio Space on {hardware} (CPU Spaces need PRO); "
                        f"deploy with --hardware zero-a10g (ZeroGPU, which free accounts can host), or upgrade to PRO.")


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m explorer deploy-space", description=__doc__.split("\n\n")[0])
    p.add_argument("repo_id", help="OWNER/NAME of the Space (created if it does not exist)")
    p.add_argument("--private", action="store_true")
    p.add_argument("--hardware", choices=list(HARDWARE), default=DEFAULT_HARDWARE,
                   help="; ".join(f"{k}: {v}" for k, v in HARDWARE.items()) + f" (default {DEFAULT_HARDWARE})")
    p.add_argument("--list", action="store_true", help="only print the files that would be uploaded")
    args = p.parse_args(argv)
    try:
        if args.list:
            print("\n".join(space_files()))
            return 0
        url = deploy_space(args.repo_id, private=args.private, hardware=args.hardware)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"deployed → {url}\nThe Space builds from requirements.txt, then runs app.py: https://huggingface.co/spaces/{args.repo_id}")
    return 0
