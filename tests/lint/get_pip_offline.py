"""Stand-in for the get-pip.py that ansible-test downloads from a host this
test bed cannot reach: bootstrap pip from the interpreter's own ensurepip,
then install what ansible-test asked for from the package index."""

import subprocess
import sys


def main():
    subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade"])
    wanted = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
    subprocess.check_call([sys.executable, "-m", "pip", "install"] + wanted)


if __name__ == "__main__":
    main()
