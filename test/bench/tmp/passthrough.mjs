import { createServer, request, Agent } from "node:http";
const backendPort = Number(process.argv[2]);
const agent = new Agent({ keepAlive: true, maxSockets: Infinity });
const server = createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    const body = Buffer.concat(chunks).toString().replace("bench:", "bench:");
    const up = request({ agent, host: "127.0.0.1", port: backendPort, path: "/responses", method: "POST", headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } }, (ur) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      ur.setEncoding("utf8");
      ur.on("data", (t) => { if (!res.write(t.replaceAll('"delta":"', '"content":"'))) { ur.pause(); res.once("drain", () => ur.resume()); } });
      ur.on("end", () => res.end("data: [DONE]\n\n"));
    });
    up.end(body);
  });
});
server.listen(0, "127.0.0.1", () => process.stderr.write(`{"msg":"listening","port":${server.address().port}}\n`));
process.on("SIGINT", () => process.exit(0));
