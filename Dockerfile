# The threatgraph API. Neo4j runs in its own container (compose.yaml), so this
# image needs no Java: it reaches Neo4j through NEO4J_URI.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin threatgraph

# Build from /src and delete it afterwards, so the installed package (with its
# package data) is what runs, not the source tree.
WORKDIR /src
# The locked dependencies first (exact versions, checked against their hashes), in a
# layer of their own that a change to the code does not rebuild.
COPY requirements/runtime.txt requirements/
RUN pip install --no-cache-dir --require-hashes -r requirements/runtime.txt
COPY pyproject.toml README.md ./
COPY graph/ graph/
COPY schema/ schema/
COPY api/ api/
COPY seed/ seed/
RUN pip install --no-cache-dir --no-deps . && cd / && rm -rf /src

WORKDIR /home/threatgraph
USER threatgraph

EXPOSE 8000
CMD ["sh", "-c", "threatgraph seed --if-empty && exec threatgraph serve --host 0.0.0.0 --port 8000"]
