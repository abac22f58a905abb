#!/usr/bin/env bash

# Fail on error
set -e

# Define functions
map_tablet() {
    ## Return if no OUTPUT is specified
    [[ -z "${1}" ]] &&
        return

    IDENTIFIERS=(
        "type:tablet_pad"
        "type:tablet_tool"
    )
    for identifier in "${IDENTIFIERS[@]}"; do
        /usr/bin/swaymsg "input \"${identifier}\" map_to_output ${1}"
        ## Maintain aspect ratio of 16:10 input region
        ## See: https://man.archlinux.org/man/sway-input.5#MAPPING_CONFIGURATION
        /usr/bin/swaymsg "input \"${identifier}\" map_from_region 0x0 1x0.9"
    done
}

# Switch display for graphics tablets
OUTPUT="$(/usr/bin/swaymsg -t get_outputs | /usr/bin/jq -r '.[] | select(.focused == true) | .name')"
map_tablet "${OUTPUT}"

# Switch display for graphics tablets on workspace switch
/usr/bin/swaymsg -t SUBSCRIBE -m '["workspace"]' | while read -r line; do
    OUTPUT="$(/usr/bin/jq -r 'select(.change == "focus") | .current.output' <<<"${line}")"
    map_tablet "${OUTPUT}"
done
