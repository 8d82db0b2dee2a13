"""Helpers of the nginx module's end-to-end tests: a real nginx (master and
workers) started on a free port with a generated configuration that loads
the module built in this tree, next to the helpers of the streamreg-server
tests (srvtest.py: reaper, players, polling, cleanup).

Environment (set by ctest): SR_NGINX_MODULE (the .so), SR_NGINX (nginx
binary, default /usr/sbin/nginx), SR_REAPER, SR_CLI."""

import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "server"))  # srvtest, cdp

import srvtest  # noqa: E402
from srvtest import Env, Proc, children, http, log, wait_until  # noqa: E402,F401

NGINX = os.environ.get("SR_NGINX", "/usr/sbin/nginx")
MODULE = os.environ.get("SR_NGINX_MODULE", "")


SOURCE = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def page_locations(web=os.path.join(SOURCE, "web")):
    """The player page and its hls.js as plain nginx files, as
    scripts/demo.sh --nginx serves them."""
    return f"""
        location = / {{ root {web}/page; try_files /index.html =404; }}
        location = /static/hls.min.js {{ alias {web}/node_modules/hls.js/dist/hls.min.js; }}
        location = /static/hls.js-LICENSE.txt {{ alias {web}/node_modules/hls.js/LICENSE; }}
        location /static/ {{ alias {web}/page/; }}"""


def nginx_conf(prefix, port, registry, out_dir, workers=2, http_extra="", loc_extra="",
               main_extra="", with_registry=True, hls_dir=None):
    """The configuration of a test nginx: everything under prefix, the
    module's three locations, the player's files under /."""
    user = "user root root;\n" if os.geteuid() == 0 else ""
    reg = f"streamreg_registry {registry};" if with_registry else ""
    return f"""load_module {MODULE};
{user}worker_processes {workers};
error_log {prefix}/error.log info;
pid {prefix}/nginx.pid;
{main_extra}
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/tmp_body;
    proxy_temp_path {prefix}/tmp_proxy;
    fastcgi_temp_path {prefix}/tmp_fastcgi;
    uwsgi_temp_path {prefix}/tmp_uwsgi;
    scgi_temp_path {prefix}/tmp_scgi;
    sendfile on;
    keepalive_timeout 10s;
    {reg}
    {http_extra}
    server {{
        listen 127.0.0.1:{port};
        location /channels {{ streamreg_hls {hls_dir or out_dir}; {loc_extra} }}
        location = /api/sessions {{ streamreg_status json; }}
        location = /metrics {{ streamreg_status prometheus; }}
        {page_locations()}
    }}
}}
"""


class NginxEnv(Env):
    """srvtest.Env with nginx in place of streamreg-server."""

    def __init__(self, tag, n_channels=2):
        super().__init__(tag, n_channels)
        self.ngx_dir = os.path.join(self.dir, "nginx")
        os.makedirs(self.ngx_dir)
        os.makedirs(self.out, exist_ok=True)
        self.conf = os.path.join(self.ngx_dir, "nginx.conf")
        self.nginx = None

    def write_conf(self, **kw):
        with open(self.conf, "w") as f:
            f.write(nginx_conf(self.ngx_dir, self.port, self.registry, self.out, **kw))

    def nginx_cmd(self, *args, conf=None):
        return subprocess.run([NGINX, "-p", self.ngx_dir, "-c", conf or self.conf,
                               "-e", os.path.join(self.ngx_dir, "error.log"), *args],
                              capture_output=True, text=True, timeout=30)

    def start_nginx(self, workers=2, **kw):
        self.write_conf(workers=workers, **kw)
        self.workers = workers
        # In the foreground (daemon off), so the test owns the master.
        self.nginx = Proc("nginx", [NGINX, "-p", self.ngx_dir, "-c", self.conf, "-e",
                                    os.path.join(self.ngx_dir, "error.log"), "-g",
                                    "daemon off;"], self.dir)
        self.procs.append(self.nginx)
        ok = wait_until(lambda: len(self.worker_pids()) == workers
                        and http(self.port, "/api/sessions", timeout=1)[0] in (200, 503),
                        15, what="nginx's workers")
        if not ok:
            raise RuntimeError("nginx did not start:\n" + self.nginx.tail() + self.error_log())
        return self.nginx

    def worker_pids(self):
        return [p for p in children(self.nginx.pid) if srvtest.alive(p)]

    def reload(self):
        r = self.nginx_cmd("-s", "reload")
        return r.returncode == 0

    def error_log(self):
        try:
            with open(os.path.join(self.ngx_dir, "error.log"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def clients(self, i):
        s = srvtest.cli_session(self.registry, self.channels[i][0])
        return s.get("clients") if s else None

    def state(self, i):
        s = srvtest.cli_session(self.registry, self.channels[i][0])
        return s.get("state") if s else None

    def check_error_log(self):
        """A crashed worker is the one thing the module must never cause."""
        text = self.error_log()
        bad = re.findall(r".*exited on signal (?!9\b)\d+.*", text)
        srvtest.check(not bad, f"no worker crashed ({bad[:3]})")

    def cleanup(self):
        if self.nginx and self.nginx.p.poll() is None:
            self.nginx.stop(signal.SIGQUIT, 20)
        super().cleanup()
