# Symlinks every *.py under SRC into DST (same relative path), so build/python/caffe is an
# importable package that tracks the sources.
file(GLOB_RECURSE py_files RELATIVE ${SRC} ${SRC}/*.py)
foreach(rel ${py_files})
  get_filename_component(dir ${DST}/${rel} DIRECTORY)
  file(MAKE_DIRECTORY ${dir})
  if(NOT EXISTS ${DST}/${rel})
    file(CREATE_LINK ${SRC}/${rel} ${DST}/${rel} SYMBOLIC)
  endif()
endforeach()
