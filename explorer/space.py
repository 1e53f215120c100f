"""Put the app on a Hugging Face Space: exactly the files git tracks (what a clean clone has), uploaded with
huggingface_hub, which sends the large ones (checkpoints, the WebAssembly runtime) through LFS/Xet — a plain
`git push` of them is refused by the Hub.

`python -m explorer deploy-space OWNER/NAME [--private] [--hardware cpu-basic]`
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
DEFAULT_HARDWARE = "cpu-basic"  # the free tier: 2 vCPU, 16 GB RAM; the model runs in each visitor's browser anyway


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
    from huggingface_hub.errors import HfHubHTTPError

    from training.hub import HUB_PREFIX, parse_hub_spec

    parse_hub_spec(HUB_PREFIX + repo_id)
    files = space_files(root)
    api = HfApi(endpoint=endpoint, token=token)
    try:
        api.create_repo(repo_id, repo_type="space", space_sdk="gradio", space_hardware=hardware, private=private, exist_ok=True)
        info = api.upload_folder(repo_id=repo_id, repo_type="space", folder_path=str(root), allow_patterns=files,
                                 commit_message="Deploy vae-explorer")
    except HfHubHTTPError as err:
        raise UserError(f"The Hub refused the Space upload to {repo_id} ({str(err).splitlines()[0][:200]}): log in with "
                        "`hf auth login` (a token with write access).") from None
    except OSError as err:
        raise UserError(f"Could not reach the Hub to deploy {repo_id} ({err}).") from None
    return info.commit_url


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m explorer deploy-space", description=__doc__.split("\n\n")[0])
    p.add_argument("repo_id", help="OWNER/NAME of the Space (created if it does not exist)")
    p.add_argument("--private", action="store_true")
    p.add_argument("--hardware", default=DEFAULT_HARDWARE, help="Space hardware tier (default: the free cpu-basic)")
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
