# deploy/packaging.cmake — install rules and the CPack DEB packages (issue 8).
#
#   cmake --build --preset ci && (cd build/ci && cpack)   →  build/ci/packages/*.deb
#
# One build, two components/packages: `tallyd` (tallyd and the tally CLI, its
# unit, udev rules) and `tally-ledger` (the ledger, its unit, the site broker
# config and the certificate script). Config in /etc/tally (conffiles, from
# deploy/*.example.toml), state in /var/lib/tally (the units'
# StateDirectory=), the system user `tally` made by the maintainer scripts
# (deploy/debian/*.in). Paths follow Debian 12 (/lib/systemd, /lib/udev).
# The architecture comes from the toolchain: amd64 natively, arm64/armhf with
# the cross presets.

include(GNUInstallDirs)

set(TALLY_DEB_UNITDIR /lib/systemd/system)
set(TALLY_DEB_UDEVDIR /lib/udev/rules.d)

# --- tallyd -----------------------------------------------------------------
install(TARGETS tallyd tally RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT tallyd)
install(FILES ${PROJECT_SOURCE_DIR}/deploy/tallyd.example.toml DESTINATION /etc/tally RENAME tallyd.toml
        COMPONENT tallyd)
install(FILES ${PROJECT_SOURCE_DIR}/deploy/systemd/tallyd.service DESTINATION ${TALLY_DEB_UNITDIR} COMPONENT tallyd)
# Every rules file in deploy/udev/ (the scanners' group access), whoever adds it.
file(GLOB TALLY_UDEV_RULES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/deploy/udev/*.rules)
if(TALLY_UDEV_RULES)
  install(FILES ${TALLY_UDEV_RULES} DESTINATION ${TALLY_DEB_UDEVDIR} COMPONENT tallyd)
endif()
install(FILES ${PROJECT_SOURCE_DIR}/docs/OPERATIONS.md ${PROJECT_SOURCE_DIR}/docs/JOURNAL.md
        DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/tallyd COMPONENT tallyd)
# The opt-in drop-in for a camera's trigger key (the `input` group).
install(FILES ${PROJECT_SOURCE_DIR}/deploy/systemd/tallyd-input.conf
        DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/tallyd/examples COMPONENT tallyd)

# --- tally-ledger -------------------------------------------------------------
set(TALLY_DEB_COMPONENTS tallyd)
if(TARGET tally-ledger)
  list(APPEND TALLY_DEB_COMPONENTS tally-ledger)
  install(TARGETS tally-ledger RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT tally-ledger)
  install(FILES ${PROJECT_SOURCE_DIR}/deploy/tally-ledger.example.toml DESTINATION /etc/tally
          RENAME tally-ledger.toml COMPONENT tally-ledger)
  install(FILES ${PROJECT_SOURCE_DIR}/deploy/systemd/tally-ledger.service DESTINATION ${TALLY_DEB_UNITDIR}
          COMPONENT tally-ledger)
  # The site broker's config (not enabled: it needs the site's certificates;
  # the file's head says how) and the certificate script.
  install(FILES ${PROJECT_SOURCE_DIR}/deploy/mosquitto/tally.conf ${PROJECT_SOURCE_DIR}/deploy/mosquitto/acl
          DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/tally/mosquitto COMPONENT tally-ledger)
  install(PROGRAMS ${PROJECT_SOURCE_DIR}/deploy/certs DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/tally
          COMPONENT tally-ledger)
  install(FILES ${PROJECT_SOURCE_DIR}/docs/OPERATIONS.md ${PROJECT_SOURCE_DIR}/docs/PROTOCOL.md
          DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/tally-ledger COMPONENT tally-ledger)
endif()

# --- Maintainer scripts and conffiles, per package ----------------------------
function(tally_deb_scripts pkg unit config purge_state extra_postinst)
  set(dir ${PROJECT_BINARY_DIR}/debian/${pkg})
  set(PKG ${pkg})
  set(UNIT ${unit})
  set(CONFIG ${config})
  set(PURGE_STATE "${purge_state}")
  set(EXTRA_POSTINST "${extra_postinst}")
  foreach(script postinst prerm postrm)
    configure_file(${PROJECT_SOURCE_DIR}/deploy/debian/${script}.in ${dir}/${script} @ONLY
                   FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ
                   WORLD_EXECUTE)
  endforeach()
  file(WRITE ${dir}/conffiles "/etc/tally/${config}\n")
  string(TOUPPER ${pkg} up)
  string(REPLACE "-" "_" up ${up})
  set(CPACK_DEBIAN_${up}_PACKAGE_CONTROL_EXTRA ${dir}/conffiles ${dir}/postinst ${dir}/prerm ${dir}/postrm
      PARENT_SCOPE)
endfunction()

tally_deb_scripts(tallyd tallyd.service tallyd.toml
  "  rm -f /var/lib/tally/journal.db /var/lib/tally/journal.db-wal /var/lib/tally/journal.db-shm"
  "  # New udev rules for the scanners apply without a reboot.
  if [ -S /run/udev/control ] && command -v udevadm >/dev/null 2>&1; then
    udevadm control --reload-rules || true
    udevadm trigger --action=change --subsystem-match=usb --subsystem-match=hidraw --subsystem-match=tty || true
  fi")
tally_deb_scripts(tally-ledger tally-ledger.service tally-ledger.toml "  rm -rf /var/lib/tally/ledger" "  :")

# --- CPack ---------------------------------------------------------------------
if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(aarch64|arm64)$")
  set(TALLY_DEB_ARCH arm64)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "^arm")
  set(TALLY_DEB_ARCH armhf)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64)$")
  set(TALLY_DEB_ARCH amd64)
else()
  set(TALLY_DEB_ARCH ${CMAKE_SYSTEM_PROCESSOR})
endif()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME tally)
set(CPACK_PACKAGE_VENDOR "Tally")
set(CPACK_PACKAGE_CONTACT "Tally maintainers <tally@localhost>")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DIRECTORY ${PROJECT_BINARY_DIR}/packages)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL ${TALLY_DEB_COMPONENTS})
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE ${TALLY_DEB_ARCH})
set(CPACK_DEBIAN_PACKAGE_SECTION misc)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Library dependencies from the binaries (dpkg-shlibdeps), plus adduser for
# the postinst.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_TALLYD_PACKAGE_NAME tallyd)
set(CPACK_DEBIAN_TALLYD_DESCRIPTION "Tally edge scanning daemon and CLI
 tallyd decodes barcodes from USB/serial scanners, camera frames and HTTP,
 records stock movements offline in a SQLite journal and syncs them over
 MQTT to a central ledger. Includes the tally command-line tool.")
set(CPACK_DEBIAN_TALLY-LEDGER_PACKAGE_NAME tally-ledger)
set(CPACK_DEBIAN_TALLY-LEDGER_DESCRIPTION "Tally central inventory ledger
 tally-ledger applies the devices' movements idempotently, keeps balances,
 raises exceptions and serves master data and tasks back to the devices.
 Includes the site's mosquitto configuration and certificate script.")
set(CPACK_DEBIAN_TALLY-LEDGER_PACKAGE_SUGGESTS "mosquitto, postgresql")
set(CPACK_DEBIAN_TALLY-LEDGER_PACKAGE_CONTROL_EXTRA ${CPACK_DEBIAN_TALLY_LEDGER_PACKAGE_CONTROL_EXTRA})
# Stripped binaries in the packages (the build tree keeps its debug info).
set(CPACK_STRIP_FILES ON)
include(CPack)
