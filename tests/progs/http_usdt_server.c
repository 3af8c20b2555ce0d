/* A tiny HTTP/1.0 server that fires Node.js's USDT probe
 * node:http__server__request(req, conn, remote, port, method, url, fd) for
 * every request, with Node's argument order: the target of
 * examples/nodejs_http_server (no Node.js build with USDT probes needed).
 *
 *   http_usdt_server     listens on 127.0.0.1, an ephemeral port; prints
 *                        "ready PORT", then answers every request "200 OK"
 * Build: cc -O1 -o http_usdt_server http_usdt_server.c (needs <sys/sdt.h>). */
#include <sys/sdt.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct node_request { const char *url; const char *method; };
struct node_connection { int fd; const char *remote; int port; };

int main(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) || listen(s, 16) ||
	    getsockname(s, (struct sockaddr *)&a, &len))
		return 1;
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("ready %d\n", ntohs(a.sin_port));
	for (;;) {
		struct sockaddr_in peer;
		socklen_t plen = sizeof(peer);
		char buf[2048], method[16] = "", url[1024] = "", remote[INET_ADDRSTRLEN];
		int c = accept(s, (struct sockaddr *)&peer, &plen);
		ssize_t n;

		if (c < 0)
			continue;
		n = read(c, buf, sizeof(buf) - 1);
		if (n > 0) {
			struct node_request req = { url, method };
			struct node_connection conn;
			int port = ntohs(peer.sin_port);

			buf[n] = 0;
			sscanf(buf, "%15s %1023s", method, url);
			inet_ntop(AF_INET, &peer.sin_addr, remote, sizeof(remote));
			conn.fd = c;
			conn.remote = remote;
			conn.port = port;
			DTRACE_PROBE7(node, http__server__request, &req, &conn, remote, port,
				      method, url, c);
			dprintf(c, "HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nok\n");
		}
		close(c);
	}
}
