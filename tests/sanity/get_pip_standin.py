# Stand-in for ansible-test's get-pip.py download (its host is not reachable from every CI
# machine): bootstrap pip from the interpreter's bundled ensurepip, then install the pip
# version ansible-test asked for from the package index. scripts/test puts this file where
# ansible-test caches its download.
import subprocess
import sys

subprocess.check_call([sys.executable, '-m', 'ensurepip', '--default-pip'])
args = [a for a in sys.argv[1:] if a not in ('--no-setuptools', '--no-wheel')]
subprocess.check_call([sys.executable, '-m', 'pip', 'install'] + args)
