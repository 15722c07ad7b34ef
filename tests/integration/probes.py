"""What a hostile researcher runs inside a container of the enclave: the same probes go against an interactive
workspace (`test_attacks.py`) and a sealed job container (`test_blind_jobs.py`). Each prints one JSON line."""

FORK_BOMB = r"""
import errno, json, os, signal, time
kids = []
try:
    while len(kids) < 5000:
        pid = os.fork()
        if pid == 0:
            time.sleep(30)
            os._exit(0)
        kids.append(pid)
    out = {"forked": len(kids), "stopped_by": None}
except OSError as e:
    out = {"forked": len(kids), "stopped_by": errno.errorcode[e.errno]}
for k in kids:
    os.kill(k, signal.SIGKILL)
for k in kids:
    os.waitpid(k, 0)
print(json.dumps(out))
"""

MEMORY_BOMB = r"""
import json, subprocess, sys
code = "b = bytearray(3 * 1024**3)\nfor i in range(0, len(b), 4096): b[i] = 1\nprint('survived')"
r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
print(json.dumps({"rc": r.returncode, "out": r.stdout.strip(), "err": r.stderr.strip()[-200:]}))
"""

PRIVILEGE = r"""
import ctypes, errno, json, os, socket
out = {}
def attempt(name, fn):
    try:
        fn()
        out[name] = "ALLOWED"
    except OSError as e:
        out[name] = errno.errorcode.get(e.errno, str(e.errno))
libc = ctypes.CDLL(None, use_errno=True)
def call(rc):
    if rc != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
attempt("setuid0", lambda: os.setuid(0))
attempt("userns", lambda: call(libc.unshare(0x10000000)))
attempt("mountns", lambda: call(libc.unshare(0x00020000)))
attempt("mount", lambda: call(libc.mount(b"tmpfs", b"/tmp", b"tmpfs", 0, None)))
attempt("raw_socket", lambda: socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP))
attempt("chown_root", lambda: os.chown("/workspace", 0, 0))
# set-uid gains nothing: the kernel ignores it for this process tree (no_new_privs), the image has no set-uid or
# set-gid program, and a set-uid file the researcher makes belongs to the researcher
out["no_new_privs"] = [ln.split()[1] for ln in open("/proc/self/status") if ln.startswith("NoNewPrivs:")]
out["setid_programs"] = []
for top in ("/usr", "/bin", "/sbin", "/lib", "/opt", "/etc", "/var"):
    for root, dirs, files in os.walk(top):
        for f in files:
            try:
                st = os.lstat(os.path.join(root, f))
            except OSError:
                continue
            if st.st_mode & 0o6000 and not os.path.islink(os.path.join(root, f)):
                out["setid_programs"].append(os.path.join(root, f))
own = os.path.join(os.environ.get("PROBE_DIR", "/workspace"), "suid-test")  # a folder the probe may write
open(own, "w").write("x")
os.chmod(own, 0o4755)
out["own_suid_file_owner"] = os.stat(own).st_uid
out["uid"] = os.getuid()
os.unlink(own)
print(json.dumps(out))
"""

# What a job container must not hold: a way out, a credential, the engine, a writable system or code folder,
# another dataset, a capability. Printed as facts, judged by the test.
SEALED = r"""
import json, os, pathlib
out = {}
out["interfaces"] = sorted(ln.split(":")[0].strip() for ln in open("/proc/net/dev").readlines()[2:])
out["secret_env"] = sorted(k for k in os.environ
                           if any(w in k.upper() for w in ("TOKEN", "SECRET", "PASSWORD", "JUPYTERHUB", "API_URL")))
out["engine_sockets"] = [p for p in ("/var/run/docker.sock", "/run/docker.sock", "/run/containerd/containerd.sock")
                         if os.path.exists(p)]
cap = [ln.split()[1] for ln in open("/proc/self/status") if ln.startswith(("CapEff:", "CapPrm:", "CapBnd:"))]
out["capabilities"] = sorted(set(cap))
def writable(path):
    try:
        with open(path, "w") as f:
            f.write("x")
        os.unlink(path)
        return "ALLOWED"
    except OSError as e:
        return e.strerror
out["write"] = {p: writable(p) for p in ("/etc/probe", "/usr/probe", "/opt/probe", "/probe", "/workspace/probe",
                                         "/data/probe")}
out["datasets"] = sorted(os.listdir("/data")) if os.path.isdir("/data") else []
out["home"] = os.environ.get("HOME")
out["mounts"] = sorted({ln.split()[4] for ln in open("/proc/self/mountinfo")
                       if ln.split()[4].startswith(("/workspace", "/data", "/srv", "/home", "/mnt"))})
print(json.dumps(out))
"""
