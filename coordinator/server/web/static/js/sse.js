// Server-sent events from a fetch() response (EventSource cannot POST or send a key header).
// Yields the parsed JSON of each event's data; lines may end in \n or \r\n (sse-starlette's).

export async function* sseEvents(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = eventEnd(buffer)) !== null) {
        const [at, length] = end;
        const data = dataOf(buffer.slice(0, at));
        buffer = buffer.slice(at + length);
        if (data !== null) yield JSON.parse(data);
      }
    }
  } finally {
    reader.releaseLock();
  }
}

function eventEnd(buffer) {
  const match = /\r?\n\r?\n/.exec(buffer);
  return match ? [match.index, match[0].length] : null;
}

function dataOf(block) {
  const lines = block.split(/\r?\n/).filter((line) => line.startsWith("data:"));
  if (lines.length === 0) return null; // a comment or a keep-alive ping
  return lines.map((line) => line.slice(5).replace(/^ /, "")).join("\n");
}
